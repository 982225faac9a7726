"""Object names in the scene preview stay readable when objects stand side by side."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gwm.scene.preview import separate_labels  # noqa: E402


def _boxes(fig, labels):
    r = fig.canvas.get_renderer()
    return [a.get_window_extent(r) for a in labels]


def test_labels_of_neighbouring_objects_are_moved_apart_upward():
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    # three names anchored within a few pixels of each other (objects 1-2 cm apart in a top view)
    labels = [ax.annotate(f"object_{k} (container)", (0.5 + 0.01 * k, 0.5), ha="center", va="bottom")
              for k in range(3)]
    fig.canvas.draw()
    before = _boxes(fig, labels)
    assert before[0].overlaps(before[1])  # the case being fixed
    separate_labels(fig, ax, labels)
    after = _boxes(fig, labels)
    for i in range(3):
        for j in range(i):
            assert not after[i].overlaps(after[j])
    assert after[0].y0 == before[0].y0  # the first keeps its place
    assert after[1].y0 > before[1].y0 and after[2].y0 > after[1].y0  # the others go up, in order
    plt.close(fig)


def test_labels_already_apart_do_not_move():
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.set_xlim(0, 1)
    ax.set_ylim(1, 0)  # an image axis: y grows downward in data, "up" on screen still means up
    labels = [ax.annotate("a", (0.2, 0.2)), ax.annotate("b", (0.8, 0.8))]
    fig.canvas.draw()
    before = [b.bounds for b in _boxes(fig, labels)]
    separate_labels(fig, ax, labels)
    assert [b.bounds for b in _boxes(fig, labels)] == before
    plt.close(fig)
