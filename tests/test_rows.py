"""Pair → row: ids that stay the same run to run."""

from spotdiff.export.rows import mutation_dict, pair_id
from spotdiff.records import Element, Mutation, Page, Pair, Shot


def test_a_pair_id_does_not_follow_the_port_a_site_is_served_on():
    """An image swapped for another of the page names it by URL; on a `--site` run the port
    differs run to run, and the row's id must not."""
    def image_pair(port: int, image: str = "b.png") -> Pair:
        element = Element(index=0, selector="#hero", xpath="", tag="img", kind="image",
                          text="", landmark="", box=(0, 0, 10, 10), flags=frozenset(), styles={})
        origin = f"http://127.0.0.1:{port}/"
        swap = Mutation(operator="image", mechanism="attribute", element=element,
                        property="src", old_value=origin + "a.png", new_value=origin + image,
                        direction="changed", magnitude=0, tier="easy")
        shot = Shot(png=b"", pixels=None)
        return Pair(page=Page(url=origin + "index.html", key="site:index.html"), before=shot,
                    after=shot, mutations=[swap], target_box=None, metrics={}, language="en",
                    sentence="")

    assert pair_id(image_pair(40001)) == pair_id(image_pair(51234))
    assert pair_id(image_pair(40001)) != pair_id(image_pair(40001, "c.png"))


def test_the_ink_box_lies_within_the_box_the_change_measured():
    element = Element(index=0, selector="nav a", xpath="", tag="a", kind="link", text="Docs",
                      landmark="", box=(849, 21, 188, 18), flags=frozenset(), styles={},
                      ink=(849, 21, 140, 18))
    m = Mutation(operator="color", mechanism="style", element=element, property="color",
                 old_value="#000", new_value="#f00", direction="changed", magnitude=40,
                 tier="easy")
    assert mutation_dict(m, "link", (849, 21, 188, 16), "")["ink_bbox"] == [849, 21, 140, 16]
    assert mutation_dict(m, "link", (849, 21, 188, 20), "")["ink_bbox"] == [849, 21, 140, 18]
