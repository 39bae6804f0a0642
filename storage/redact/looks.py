"""A face looked for again where it was lost (design/0463, 0572): which box found there is not the face. Pure."""

from __future__ import annotations

from storage.redact.plan import Box

EDGE = 2   # pixels: a box this close to a side of the region looked in, a side the region was cut along, is cut by it


def cut(box: Box, regions: list[tuple[Box, int]], size: tuple[int, int], late: list[Box]) -> bool:
    """Whether `box`, found looking in `regions` (each (region, the lost face's height), facetrack.looks) of a picture
    `size` (width, height) across, overlaps only `late` ones (those of faces lost over REACH frames before, looked for
    since design/0572) and reaches within EDGE of a side of each that is not the picture's edge: a piece of what that
    side was cut through, not the face looked for, which its region holds with LOOK_WIDEN of its sides about its line
    and one pixel a frame since it was lost (held-out 2 float: a third of the applicant's face at the side of a region
    grown 41 frames, then filled over her face). A region looked in before REACH frames takes what it finds, as before."""
    x, y, w, h = box
    holding = [r for r, _ in regions if x < r[0] + r[2] and r[0] < x + w and y < r[1] + r[3] and r[1] < y + h]
    return bool(holding) and all(r in late and ((r[0] > 0 and x - r[0] <= EDGE) or (r[1] > 0 and y - r[1] <= EDGE)
                                                or (r[0] + r[2] < size[0] and r[0] + r[2] - x - w <= EDGE)
                                                or (r[1] + r[3] < size[1] and r[1] + r[3] - y - h <= EDGE))
                                 for r in holding)
