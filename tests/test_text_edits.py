"""Text edits read like copy edits: one number changed, one word swapped for a word of the same
kind from the page, or one word dropped; never several words replaced at once."""

import numpy as np

from spotdiff.mutators.values import PageContext, text
from spotdiff.records import Element

VOCABULARY = ("Working", "From", "Systems", "Orders", "Payments", "Invoices", "Reports",
              "Monday", "Tuesday", "Dashboard", "running", "shipping", "added", "created", "The")
TEXTS = ["Work from home", "Total orders: 1,284", "Updated 3 days ago", "Order shipped",
         "Monday standup at 9am", "/etc", "Recent payments and invoices"]


def element(words: str) -> Element:
    return Element(0, "p", "/p", "p", "paragraph", words, "", (0, 0, 100, 20),
                   frozenset({"text"}), {})


def test_each_edit_changes_one_token():
    rng = np.random.default_rng(0)
    ctx = PageContext(vocabulary=VOCABULARY)
    made = 0
    for words in TEXTS:
        for target in (1, 3, 6, 12):
            change = text(None, None, element(words), target, rng, ctx)
            if change is None:
                continue
            made += 1
            old, new = change.old.split(), change.new.split()
            if len(new) == len(old):
                differing = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
                assert len(differing) == 1, (words, change.new)
                a, b = differing[0]
                if any(c.isdigit() for c in a):
                    assert sum(x != y for x, y in zip(a, b, strict=False)) == 1
                else:
                    assert a[-2:].lower() == b[-2:].lower() and b.lower() != "the", (a, b)
            else:
                assert len(new) == len(old) - 1 and set(new) <= set(old), (words, change.new)
    assert made >= 12
    assert text(None, None, element("/etc"), 3, rng, ctx) is None  # no word of its kind
