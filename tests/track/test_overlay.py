"""The overlay video's layout: per camera a row observed | corrected | open loop, the first row labelled."""

import numpy as np

from gwm.track.outputs import overlay_frames


def test_overlay_rows_are_cameras_columns_are_sources_and_the_first_row_is_labelled():
    t, c, h, w = 2, 2, 60, 80
    observed, corrected, open_loop = (np.full((t, c, h, w, 3), v, np.uint8) for v in (60, 120, 180))
    out = overlay_frames(observed, corrected, open_loop)
    assert out.shape == (t, c * h, 3 * w, 3)
    corner = (slice(0, h // 3), slice(0, w))  # where a label sits in a panel
    for k, value in enumerate((60, 120, 180)):
        panel = out[:, :h, k * w:(k + 1) * w]
        labelled = panel[:, corner[0], corner[1]]
        assert ((labelled != value).any(-1).sum((1, 2)) > 50).all()  # the label's pixels, in every frame
        assert (panel[:, h // 2:] == value).all()  # the rest of the panel is the frame as given
        assert (out[:, h:, k * w:(k + 1) * w] == value).all()  # the second camera's row: no label
    without = overlay_frames(observed, corrected, None)
    assert without.shape == (t, c * h, 2 * w, 3) and (without[:, h:, w:] == 120).all()
