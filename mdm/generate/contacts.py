"""Email addresses and phone numbers for generated people.

Emails come in two kinds that matter to matching: name-like ("james.lewis@",
"jlewis84@"), which repeat the name, and distinctive ("bluefox77@"). Every address
is unique to its owner unless a household shares it on purpose. Phone numbers
are 11-digit UK national numbers: mobiles "07..." per person, landlines per
household with the town's dialling code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mdm.generate.arrays import (
    BoolArray,
    IntArray,
    ObjArray,
    cumulative,
    keep_where,
    obj,
    pick_weighted,
    text,
    words,
)

_DOMAINS = (
    ("gmail.com", 30), ("hotmail.co.uk", 14), ("yahoo.co.uk", 8), ("outlook.com", 8),
    ("icloud.com", 7), ("btinternet.com", 6), ("hotmail.com", 5), ("live.co.uk", 4),
    ("sky.com", 4), ("virginmedia.com", 3), ("googlemail.com", 2), ("aol.com", 2),
    ("yahoo.com", 2), ("me.com", 2), ("talktalk.net", 1), ("protonmail.com", 1),
)  # fmt: skip
_WORK_DOMAINS = words("""
    nhs.net northgate-logistics.co.uk brightwater.co.uk ashdown-group.com kestrel-systems.co.uk
    harbourside.ac.uk millbrook-council.gov.uk pennine-foods.co.uk redkite-consulting.com
    oakleaf-insurance.co.uk tideway-energy.co.uk summit-retail.com fairfax-legal.co.uk
    greenfield-homes.co.uk bluestone-bank.co.uk larkspur-media.com
""")
_ADJECTIVES = words("""
    blue red green silver golden happy lucky wild little big crazy sunny misty dark bright
    cool sweet quiet swift brave cheeky fluffy funky jolly magic mighty noble rusty shiny
    sleepy snowy stormy super wise fancy frosty groovy hidden lazy lonely purple scarlet
    amber crimson cosmic electric
""")
_NOUNS = words("""
    fox tiger bear wolf eagle hawk falcon owl raven robin dragon panda lion otter badger
    rabbit kitten puppy star moon sun storm rain river ocean wave rose lily daisy bee
    butterfly pixie angel rider runner dreamer gamer surfer skater biker chef monkey penguin
    dolphin shark phoenix mermaid pirate ninja wizard
""")

_NAMELIKE = 0
_DISTINCTIVE = 1


def make_emails(
    rng: np.random.Generator,
    first_key: ObjArray,
    first_initial: ObjArray,
    last_key: ObjArray,
    birth_year: IntArray,
) -> tuple[ObjArray, ObjArray]:
    """A primary email for most people and a second (work or spare) one for some.

    Returns ``(email, email_alt)``, object arrays with ``None`` where a person has none.
    """
    n = len(first_key)
    kind = rng.choice(3, n, p=[0.55, 0.39, 0.06])  # name-like, distinctive, none
    local = np.empty(n, dtype=object)
    namelike = kind == _NAMELIKE
    local[namelike] = _namelike_local(
        rng, first_key[namelike], first_initial[namelike], last_key[namelike], birth_year[namelike]
    )
    distinctive = kind == _DISTINCTIVE
    local[distinctive] = _distinctive_local(rng, int(distinctive.sum()))
    domain = _pick_domains(rng, n)

    alt = rng.random(n) < 0.25
    work = alt & (rng.random(n) < 0.55)
    alt_local = np.empty(n, dtype=object)
    alt_local[work] = first_key[work] + "." + last_key[work]
    spare = alt & ~work
    alt_local[spare] = _distinctive_local(rng, int(spare.sum()))
    alt_domain = _pick_domains(rng, n)
    alt_domain[work] = np.array(_WORK_DOMAINS, dtype=object)[
        rng.integers(0, len(_WORK_DOMAINS), int(work.sum()))
    ]

    has = kind != 2
    all_local = np.concatenate([local[has], alt_local[alt]])
    all_domain = np.concatenate([domain[has], alt_domain[alt]])
    all_local = _make_unique(rng, all_local, all_domain)
    email = np.full(n, None, dtype=object)
    email[has] = all_local[: has.sum()] + "@" + all_domain[: has.sum()]
    email_alt = np.full(n, None, dtype=object)
    email_alt[alt] = all_local[has.sum() :] + "@" + all_domain[has.sum() :]
    return email, email_alt


def _pick_domains(rng: np.random.Generator, n: int) -> ObjArray:
    names = np.array([d for d, _ in _DOMAINS], dtype=object)
    return names[pick_weighted(rng, cumulative([w for _, w in _DOMAINS]), n)]


def _two_digits(rng: np.random.Generator, birth_year: IntArray) -> ObjArray:
    """Mostly the birth year ("84"), otherwise any number."""
    n = len(birth_year)
    value = np.where(rng.random(n) < 0.6, birth_year % 100, rng.integers(1, 100, n))
    return text(value)


def _namelike_local(
    rng: np.random.Generator,
    f: ObjArray,
    fi: ObjArray,
    last: ObjArray,
    birth_year: IntArray,
) -> ObjArray:
    n = len(f)
    pattern = rng.choice(9, n, p=[0.33, 0.18, 0.09, 0.08, 0.12, 0.05, 0.04, 0.06, 0.05])
    nn = _two_digits(rng, birth_year)
    forms = [
        f + "." + last,
        f + last,
        fi + "." + last,
        fi + last,
        f + "." + last + nn,
        f + "_" + last,
        last + "." + f,
        f + nn,
        f + last + text(rng.integers(1, 1000, n)),
    ]
    out = np.empty(n, dtype=object)
    for i, form in enumerate(forms):
        sel = pattern == i
        out[sel] = form[sel]
    return out


def _distinctive_local(rng: np.random.Generator, n: int) -> ObjArray:
    adj = np.array(_ADJECTIVES, dtype=object)[rng.integers(0, len(_ADJECTIVES), n)]
    noun = np.array(_NOUNS, dtype=object)[rng.integers(0, len(_NOUNS), n)]
    num = text(rng.integers(1, 100, n))
    num4 = text(rng.integers(1950, 2024, n))
    pattern = rng.choice(5, n, p=[0.45, 0.2, 0.15, 0.1, 0.1])
    forms = [adj + noun + num, noun + num4, adj + "_" + noun, "the" + noun + num, adj + noun]
    out = np.empty(n, dtype=object)
    for i, form in enumerate(forms):
        sel = pattern == i
        out[sel] = form[sel]
    return out


def _make_unique(rng: np.random.Generator, local: ObjArray, domain: ObjArray) -> ObjArray:
    """Append digits to local parts until every local@domain is distinct."""
    local = local.copy()
    for _ in range(20):
        dup = pd.Series(local + "@" + domain).duplicated().to_numpy()
        if not dup.any():
            return local
        local[dup] = local[dup] + text(rng.integers(1, 1000, int(dup.sum())))
    return local


def share_emails(
    rng: np.random.Generator,
    email: ObjArray,
    head: IntArray,
    partner: BoolArray,
    child: BoolArray,
    p_shared: float,
    surname_key: ObjArray,
    p_child: float = 0.05,
) -> None:
    """Some couples use one address (often a joint one); a few grown children use it too
    (``p_child`` of them).

    ``head[i]`` is the index of the head of person ``i``'s household. Changes ``email``
    in place.
    """
    n = len(email)
    shares = partner & (rng.random(n) < p_shared) & pd.notna(email[head])
    joint = shares & (rng.random(n) < 0.5)
    h = head[joint]
    domain = _pick_domains(rng, len(h))
    style = rng.integers(0, 2, len(h))
    local = np.where(style == 0, surname_key[h] + "family", "the" + surname_key[h] + "s")
    joint_email = _make_unique_against(rng, local + text(rng.integers(1, 100, len(h))), domain)
    email[h] = joint_email
    kids = child & (rng.random(n) < p_child) & pd.notna(email[head])
    copy = shares | kids
    email[copy] = email[head[copy]]


def _make_unique_against(rng: np.random.Generator, local: ObjArray, domain: ObjArray) -> ObjArray:
    unique = _make_unique(rng, local, domain)
    return obj(unique + "@" + domain)


def make_mobiles(rng: np.random.Generator, n: int, p_has: float = 0.93) -> ObjArray:
    """Distinct UK mobile numbers "07xxxxxxxxx" for most people, ``None`` for the rest."""
    digits = rng.choice(900_000_000, n, replace=False) + 100_000_000
    return keep_where(rng.random(n) < p_has, obj("07" + text(digits)))


def make_landlines(rng: np.random.Generator, dial_code: ObjArray, has: BoolArray) -> ObjArray:
    """Distinct landline numbers for households with ``has``; ``dial_code`` per household."""
    n = len(dial_code)
    london = dial_code == "020"
    number = np.where(
        london, rng.integers(30_000_000, 89_999_999, n), rng.integers(200_000, 999_999, n)
    )
    out = dial_code + text(number)
    for _ in range(20):
        dup = has & pd.Series(out).duplicated().to_numpy()
        if not dup.any():
            break
        fresh = np.where(
            london, rng.integers(30_000_000, 89_999_999, n), rng.integers(200_000, 999_999, n)
        )
        out[dup] = dial_code[dup] + text(fresh[dup])
    return keep_where(has, out)
