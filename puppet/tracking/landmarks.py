"""Named groups of the 478-point MediaPipe face mesh (468 points plus 10 iris points).

"Right" and "left" are the subject's own: the subject's right eye appears on the
left of an unmirrored image.  Contours are ordered, corner to corner.
"""
from __future__ import annotations

NUM_LANDMARKS = 478

FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
             54, 103, 67, 109]

# lips: each contour runs from the subject's right mouth corner to the left one
LIPS_OUTER_UPPER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LIPS_OUTER_LOWER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
LIPS_INNER_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIPS_INNER_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
MOUTH_CORNERS = (61, 291)
INNER_MOUTH_CORNERS = (78, 308)

# eyes: outer corner to inner corner
RIGHT_EYE_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133]
RIGHT_EYE_LOWER = [33, 7, 163, 144, 145, 153, 154, 155, 133]
LEFT_EYE_UPPER = [263, 466, 388, 387, 386, 385, 384, 398, 362]
LEFT_EYE_LOWER = [263, 249, 390, 373, 374, 380, 381, 382, 362]
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (263, 362)
RIGHT_IRIS = [468, 469, 470, 471, 472]  # centre first
LEFT_IRIS = [473, 474, 475, 476, 477]

RIGHT_BROW_UPPER = [70, 63, 105, 66, 107]
RIGHT_BROW_LOWER = [46, 53, 52, 65, 55]
LEFT_BROW_UPPER = [300, 293, 334, 296, 336]
LEFT_BROW_LOWER = [276, 283, 282, 295, 285]

NOSE = [168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 64, 294, 129, 358, 49, 279]
CHEEKS = [50, 280, 205, 425, 187, 411, 117, 346, 216, 436, 206, 426, 92, 322]
FOREHEAD = [151, 108, 337, 69, 299, 9]
CHIN = [152, 199, 175, 200, 18]

# points that move with the skull, not with expressions: used for head pose
RIGID = [10, 151, 9, 8, 108, 337, 67, 297, 109, 338, 168, 6, 197, 195, 5, 4,
         33, 133, 362, 263, 234, 454, 127, 356, 93, 323, 21, 251, 54, 284]

FOREHEAD_TOP = 10
CHIN_BOTTOM = 152
NOSE_TIP = 1


def _unique(seq: list[int]) -> list[int]:
    seen: set[int] = set()
    out = []
    for i in seq:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


LIPS = _unique(LIPS_OUTER_UPPER + LIPS_OUTER_LOWER + LIPS_INNER_UPPER + LIPS_INNER_LOWER)
RIGHT_EYE = _unique(RIGHT_EYE_UPPER + RIGHT_EYE_LOWER)
LEFT_EYE = _unique(LEFT_EYE_UPPER + LEFT_EYE_LOWER)
BROWS = _unique(RIGHT_BROW_UPPER + RIGHT_BROW_LOWER + LEFT_BROW_UPPER + LEFT_BROW_LOWER)
IRISES = RIGHT_IRIS + LEFT_IRIS

# the landmarks that steer the built-in warp: contours of every feature plus a
# sparse cover of the cheeks, nose, forehead and chin
CONTROL = _unique(FACE_OVAL + LIPS + RIGHT_EYE + LEFT_EYE + BROWS + IRISES + NOSE + CHEEKS
                  + FOREHEAD + CHIN)
