"""Does drawing a figure in a thread hold the training process's GIL? Measured in one run.

A pure-Python loop (a stand-in for the training loop's Python work) runs for 1 s alone,
then 1 s beside a thread that redraws the 1-D Images-tab figure (`FitFigure.draw` +
`png()`) without pause; printed: the loop's speed beside the figure thread as a fraction of
its speed alone, and how late a 1 ms sleep wakes up beside it (the wait for the GIL a
thread returning from TensorFlow would see).

    python bench/bench_figure_gil.py
"""

import threading
import time

import numpy as np

from tb_fitviz.figure import FitFigure


def spin(seconds):
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        count += 1
    return count


def main():
    x = np.linspace(0, 12, 1000)
    y = np.sin(x)
    figure = FitFigure(x, y, x, y)
    figure.draw(0, y, y ** 2, epoch=0)
    figure.png()
    alone = spin(1.0)
    stop = threading.Event()
    drawn = [0]

    def draw():
        while not stop.is_set():
            figure.draw(1, y + np.random.rand(), y ** 2, epoch=1)
            figure.png()
            drawn[0] += 1

    thread = threading.Thread(target=draw)
    thread.start()
    beside = spin(1.0)
    late = []
    for _ in range(50):
        started = time.perf_counter()
        time.sleep(0.001)
        late.append(time.perf_counter() - started - 0.001)
    stop.set()
    thread.join()
    print(f"Python loop beside a figure thread: {beside / alone:.2f} of its speed alone "
          f"({drawn[0]} figures drawn meanwhile)")
    print(f"a 1 ms sleep wakes late by: median {np.median(late) * 1e3:.1f} ms, "
          f"max {max(late) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
