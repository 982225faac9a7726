"""What each body of a scene or dataset is: its role, carried from the scene file through USD into datasets.

    background  the static scene (table, room): rendered, never modelled as moving
    object      a movable rigid body a task may manipulate
    container   a movable body that other objects can be put in or on (open-top, see gwm/scene/shape.py)
    robot_link  a link of the robot arm
    tool        the robot's end effector (gripper fingers, a pusher)

Roles come from the scene file (`[[objects]] role = ...`) or from the object's geometry at assembly,
never from a body's name.
"""

from __future__ import annotations

from typing import Literal, get_args

BodyRole = Literal["background", "object", "container", "robot_link", "tool"]
BODY_ROLES: tuple[str, ...] = get_args(BodyRole)
OBJECT_ROLES: tuple[str, ...] = ("object", "container")  # the scene's movable bodies (what tasks manipulate)
ROBOT_ROLES: tuple[str, ...] = ("robot_link", "tool")


def check_role(role: str, where: str, allowed: tuple[str, ...] = BODY_ROLES) -> str:
    """role if it is one of allowed, else ValueError naming where it came from and the choices."""
    if role not in allowed:
        raise ValueError(f"{where}: role {role!r} is not one of {', '.join(repr(r) for r in allowed)}")
    return role


__all__ = ["BODY_ROLES", "BodyRole", "OBJECT_ROLES", "ROBOT_ROLES", "check_role"]
