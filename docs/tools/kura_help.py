"""Reading kura's own --help texts: shared by gen_manual.py (docs/kura.md) and gen_manpage.py (kura.1)."""
import re, subprocess


def help_text(kura, path):
    """The --help text of `kura PATH...` (stdout, or stderr if that is where it went)."""
    out = subprocess.run([kura, *path, "--help"], capture_output=True, text=True)
    return (out.stdout or out.stderr).rstrip()


def subcommands(text):
    """The subcommand names listed under SUBCOMMANDS: in a --help text (without `help`)."""
    m = re.search(r"^SUBCOMMANDS:\n(.*?)(?:\n\n|\Z)", text, re.S | re.M)
    if not m:
        return []
    names = []
    for line in m.group(1).splitlines():
        w = line.strip().split()
        if w and not line.startswith("          ") and w[0] != "help":
            names.append(w[0])
    return names
