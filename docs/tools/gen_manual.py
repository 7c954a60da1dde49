#!/usr/bin/env python3
"""Writes docs/kura.md, the reference manual, from the binary's own --help texts (so the manual and
the program cannot drift apart), framed by a hand-written introduction and exit-code table.

    python3 docs/tools/gen_manual.py [path/to/kura] > docs/kura.md     (make docs does this)
"""
import re, subprocess, sys

import kura_help  # beside this script

kura = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/kura"

def help_text(path):
    return kura_help.help_text(kura, path)

subcommands = kura_help.subcommands

INTRO = """# kura(1) — manual

`kura` backs up directories, Docker volumes, PostgreSQL databases and command output into an
encrypted, deduplicated repository. This manual is generated from the program's own `--help`
texts (`make docs`); README.md is the quick tour and docs/design.md the repository format.

## Environment

| variable | meaning |
|---|---|
| `KURA_REPOSITORY` | repository location when `--repo` is not given (default `~/.local/share/kura/repo`) |
| `KURA_PASSWORD_FILE` | file whose first line is the password |
| `KURA_PASSWORD` | the password itself (prefer a file) |
| `KURA_NEW_PASSWORD_FILE` | new password for `key add` / `key passwd` |
| `KURA_CACHE_DIR` | local index cache folder (default `$XDG_CACHE_HOME/kura` or `~/.cache/kura`) |
| `KURA_KEY_CACHE` | `0`: do not keep the master key in the local cache (sealed under the password; docs/design.md, "The key cache") |
| `KURA_CONFIG` | configuration file for `run`, `status`, `schedule`, `config` (default `/etc/kura/kura.toml`) |

## Exit codes

| code | meaning |
|---|---|
| 0 | success |
| 1 | fatal error (nothing was saved; the message says what is safe and what to do), or damage found by `check` |
| 3 | backup saved, but some entries could not be read (the snapshot is marked incomplete and lists them) |
| 10 | no repository at the given location |
| 11 | repository locked by another process |
| 12 | wrong password |
| 64 | usage error (unknown option, missing argument) |

"""

def walk(path, out, depth):
    text = help_text(path)
    title = "kura " + " ".join(path) if path else "kura"
    out.append(f"{'#' * min(depth + 2, 4)} `{title}`\n\n```text\n{text}\n```\n")
    for sub in subcommands(text):
        walk(path + [sub], out, depth + 1)

sections = []
walk([], sections, 0)
sys.stdout.write(INTRO + "\n".join(sections))
