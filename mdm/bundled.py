"""Files that ship inside the package: the default rules, the reference names and the
demo sample.

They are found beside this module, so an installed wheel and a checkout of the
repository read the same files from any working directory. ``mdm init DIR`` copies the
rules out for a user who wants to change them; ``reference_names/build.py`` in the
repository rebuilds the reference name lists (their provenance and licences are in
``reference_names/README.md`` and ``data/reference_names/LICENSES``).
"""

from __future__ import annotations

from pathlib import Path

from mdm.errors import InputError

#: The package's data folder.
DATA_DIR = Path(__file__).resolve().parent / "data"
#: The default match and survivorship rules.
RULES_DIR = DATA_DIR / "rules"
DEFAULT_MATCH_RULES = RULES_DIR / "customer.match.yaml"
DEFAULT_SURVIVORSHIP_RULES = RULES_DIR / "customer.survivorship.yaml"
#: Seed name variants and name frequencies.
REFERENCE_NAMES_DIR = DATA_DIR / "reference_names"
#: The demo's four source files (and their mappings).
SAMPLE_DIR = DATA_DIR / "sample"

_SOURCES_README = """\
# Source mappings

A file `<source>.yaml` here says which column of that source's files holds which
customer-schema attribute, and how to read its values. It is used when this folder's
`customer.match.yaml` is the rules file (`mdm reconcile --rules ...`, or `MDM_RULES`
for the service) and a source of that name is reconciled.

Most files need none: headers that name schema attributes, or the usual ways of
writing them ("First Name", "Surname", "DOB", "E-mail", "Zip", ...), are recognised.
`mdm sources infer FILE --write sources/NAME.yaml` writes the proposed mapping of a
file here for you to review and edit.
"""


def copy_rules(directory: Path, *, overwrite: bool = False) -> list[Path]:
    """Write an editable copy of the default rules into ``directory``; return the files.

    Raises:
        InputError: a file to be written exists already and ``overwrite`` is not set,
            or ``directory`` is a file.
    """
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} is a file; give a folder to write the rules into")
    targets = {
        directory / DEFAULT_MATCH_RULES.name: DEFAULT_MATCH_RULES.read_text("utf-8"),
        directory / DEFAULT_SURVIVORSHIP_RULES.name: DEFAULT_SURVIVORSHIP_RULES.read_text("utf-8"),
        directory / "sources" / "README.md": _SOURCES_README,
    }
    present = [str(path) for path in targets if path.exists()]
    if present and not overwrite:
        raise InputError(
            f"{', '.join(present)} already exist(s); pass --force to overwrite, "
            "or choose another folder"
        )
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)
