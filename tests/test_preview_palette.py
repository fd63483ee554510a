"""The one class palette and its legends (synthcam_core.palette), shared by shard previews and
evaluate's prediction pictures."""

from __future__ import annotations

import numpy as np
import pytest

from synthcam_core.errors import InputError
from synthcam_core.labels import class13_names, class37_names, class40_names
from synthcam_core.palette import (
    LEGEND_ROW,
    class_colors,
    class_palette,
    legend_handles,
    legend_items,
    legend_strip,
    nyu40_colors,
)


def test_nyu40_colours_are_matplotlibs_hsv_conversion():
    from matplotlib.colors import hsv_to_rgb

    ids = np.arange(41)
    hsv = np.stack(
        [(ids * 0.618034) % 1.0, 0.55 + 0.45 * ((ids * 3) % 4) / 3, 0.95 - 0.35 * ((ids * 5) % 3) / 2], axis=1
    )
    expected = hsv_to_rgb(hsv)
    expected[0] = 0.0
    np.testing.assert_array_equal(nyu40_colors(), expected)


@pytest.mark.parametrize("classes", [13, 37, 40])
def test_one_distinct_colour_per_class_void_black(classes):
    colors = class_colors(classes)
    assert colors.shape == (classes + 1, 3) and colors.dtype == np.uint8
    assert colors[0].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in colors}) == classes + 1  # no two classes alike, none black but void


def test_a_class_keeps_its_colour_across_class_spaces():
    for name in ("wall", "floor", "bed", "chair", "table", "window", "ceiling", "sofa"):
        colour40 = class_palette(40)[class40_names().index(name)]
        np.testing.assert_array_equal(class_palette(13)[class13_names().index(name)], colour40)
        if name in class37_names():
            np.testing.assert_array_equal(class_palette(37)[class37_names().index(name)], colour40)
    furniture = class_palette(13)[class13_names().index("furniture")]
    np.testing.assert_array_equal(
        furniture, class_palette(40)[class40_names().index("cabinet")]
    )  # its first NYU40 class


def test_an_unknown_class_space_lists_the_known_ones():
    with pytest.raises(InputError, match="13, 37, 40"):
        class_palette(41)


def test_legend_items_most_pixels_first():
    labels = np.array([[1, 1, 1, 0], [2, 2, 0, 0], [13, 1, 0, 0]])
    items = legend_items([labels], 13)
    assert [(i.class_id, i.name) for i in items] == [(1, "bed"), (2, "books"), (13, "window")]
    assert items[0].share == pytest.approx(4 / 12) and items[0].color == tuple(class_palette(13)[1])
    with_void = legend_items([labels], 13, void=True)
    assert with_void[0].class_id == 0 and with_void[0].name == "void"  # five void pixels
    both = legend_items([labels, np.full((2, 2), 5)], 13)  # the classes of either picture
    assert [i.class_id for i in both] == [1, 5, 2, 13]
    assert legend_items([np.array([[200, 0]])], 13) == []  # ids outside the space are not classes


def test_legend_handles_name_classes_and_shares():
    handles = legend_handles(legend_items([np.array([[1, 2, 2]])], 13))
    assert [h.get_label() for h in handles] == ["books (66.7 %)", "bed (33.3 %)"]
    assert [h.get_label() for h in legend_handles(legend_items([np.array([[1]])], 13), shares=False)] == ["bed"]


def test_legend_strip_wraps_to_its_width():
    items = legend_items([np.arange(1, 14).reshape(1, -1)], 13)
    wide, narrow = legend_strip(items, 2000, title="classes:"), legend_strip(items, 200)
    assert wide.shape[1] == 2000 and narrow.shape[1] == 200 and wide.dtype == np.uint8
    assert wide.shape[0] == LEGEND_ROW + 2 and narrow.shape[0] > 3 * LEGEND_ROW
    swatches = {tuple(c) for c in narrow.reshape(-1, 3).tolist()}
    assert {tuple(c) for c in class_colors(13)[1:].tolist()} <= swatches  # every class's colour is drawn
    assert legend_strip([], 100).shape == (LEGEND_ROW + 2, 100, 3)
