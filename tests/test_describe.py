"""Element references find one element: on development-corpus pages every listed candidate's
description differs from every other's, and few name an element by a generic noun alone."""

import pytest

from spotdiff.config import CandidateConfig
from spotdiff.generator.page_job import style_properties
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.mutators.describe import describe_page, is_generic, sentence
from spotdiff.records import Mutation, Page
from spotdiff.renderer.session import PageSkipped, Renderer
from tests.conftest import run

SOURCES = [("tabler-ui-0.0.34", 2), ("sb-admin-2-4.1.4", 1), ("bs5-examples", 2),
           ("gentelella-4.2.0", 1), ("python3.11-doc", 1), ("debian-reference-ja+zh", 1),
           ("semantic-ui-2.5.0", 1)]


async def listed(cfg, pages):
    catalogue = load_catalogue(cfg.operator_paths())
    out = []
    async with Renderer(cfg.browser, cfg.render) as renderer:
        for page in pages:
            try:
                loaded = await renderer.open(page)
            except PageSkipped:
                continue
            elements = await loaded.elements(cfg.candidates, style_properties(catalogue))
            await loaded.close()
            out.append((page, describe_page(elements, cfg.render.width, cfg.render.height)))
    return out


@pytest.fixture(scope="module")
def described(cfg, serve_corpus):
    return run(listed(cfg, serve_corpus(SOURCES)))


def test_every_description_is_unique_on_its_page(described):
    assert len(described) >= 6
    for page, elements in described:
        descriptions = [e.description for e in elements]
        repeated = {d for d in descriptions if descriptions.count(d) > 1}
        assert not repeated, (page.url, sorted(repeated)[:5])


def test_generic_nouns_alone_are_rare_and_roles_are_named(described):
    elements = [e for _, page_elements in described for e in page_elements]
    generic = [e.description for e in elements if is_generic(e)]
    assert len(generic) <= 0.05 * len(elements), generic[:10]
    kinds = {e.kind for e in elements}
    assert {"card", "badge", "icon"} <= kinds, sorted(kinds)


def test_ink_box_border_and_contents_follow_what_is_painted(cfg, test_site):
    catalogue = load_catalogue(cfg.operator_paths())

    async def body():
        async with Renderer(cfg.browser, cfg.render) as renderer:
            loaded = await renderer.open(Page(url=test_site + "ink.html"))
            elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
            await loaded.close()
        return {e.selector: e for e in elements}

    found = run(body())
    row, plain, framed, brand = (found[s] for s in ("#row", "#plain", "#framed", "#brand"))
    assert row.box[2] == 900 and 30 < row.ink[2] < 200  # the text's line box, not the block
    assert framed.ink == framed.box  # a painted box paints all of itself
    assert "border" in framed.flags and "border" not in plain.flags  # white on white
    spec = catalogue["visibility"]
    hidden = Mutation("visibility", "style", brand, "visibility", "visible", "hidden", "hidden",
                      1.0, "easy")
    assert sentence(spec, hidden, "'Brand' box").endswith(
        "no longer visible, together with the image inside it.")
    leaf = Mutation("visibility", "style", framed, "visibility", "visible", "hidden", "hidden",
                    1.0, "easy")
    assert sentence(spec, leaf, "'Framed' button") == "The 'Framed' button is no longer visible."
