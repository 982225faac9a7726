"""Scene assembly: a scene file (TOML) + a splat PLY -> SceneAsset (background, bodies, colliders)."""

from gwm.scene.asset import SCENE_FORMAT_VERSION, SceneAsset, SceneObject
from gwm.scene.assemble import assemble_scene
from gwm.scene.config import SceneConfig, SceneConfigError, load_scene_config, parse_scene_config

__all__ = ["SCENE_FORMAT_VERSION", "SceneAsset", "SceneObject", "SceneConfig", "SceneConfigError",
           "assemble_scene", "load_scene_config", "parse_scene_config"]
