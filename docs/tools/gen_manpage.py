#!/usr/bin/env python3
"""Writes kura.1, a man page, from the binary's own --help texts (the same texts docs/kura.md is made of,
so the page and the program cannot drift apart).

    python3 docs/tools/gen_manpage.py path/to/kura > kura.1          (make install does this)

swift-argument-parser's `generate-manual` plugin would do the same, but it builds its own tool and a
second copy of kura first; this needs only the binary that is being installed.
"""
import datetime, re, subprocess, sys

import kura_help  # beside this script

kura = sys.argv[1] if len(sys.argv) > 1 else ".build/release/kura"

def help_text(path):
    return kura_help.help_text(kura, path)

subcommands = kura_help.subcommands

def roff(text):
    """Escapes text for a no-fill block: backslashes, and a leading . or ' that roff would read as a request."""
    lines = []
    text = "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in text.replace("\\", "\\e"))
    for line in text.splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)

def walk(path, out):
    text = help_text(path)
    title = " ".join(["kura", *path])
    out.append(f".SS {title}\n.nf\n{roff(text)}\n.fi\n")
    for sub in subcommands(text):
        walk(path + [sub], out)

version = subprocess.run([kura, "--version"], capture_output=True, text=True).stdout.strip() or "kura"
date = datetime.date.today().isoformat()
top = help_text([])
abstract = top.splitlines()[0].replace("OVERVIEW: ", "") if top else "encrypted, deduplicated backups"
sections = []
for sub in subcommands(top):
    walk([sub], sections)

sys.stdout.write(f""".TH KURA 1 "{date}" "{roff(version)}" "User Commands"
.SH NAME
kura \\- {roff(abstract)}
.SH SYNOPSIS
.B kura
.I command
[\\fIoptions\\fR]
.SH DESCRIPTION
.nf
{roff(top)}
.fi
.SH COMMANDS
{"".join(sections)}.SH ENVIRONMENT
.TP
.B KURA_REPOSITORY
repository location when \\fB\\-\\-repo\\fR is not given
.TP
.B KURA_PASSWORD_FILE
file whose first line is the password (mode 0600)
.TP
.B KURA_PASSWORD
the password itself (prefer a file)
.TP
.B KURA_CONFIG
configuration file for run, status, schedule, config, import-legacy (default /etc/kura/kura.toml)
.SH EXIT STATUS
0 success; 1 fatal error; 3 backup saved but some entries unreadable; 10 no repository;
11 locked; 12 wrong password; 64 usage error.
.SH SEE ALSO
The full manual is docs/kura.md in the source; the configuration is described in docs/configuration.md.
""")
