"""Atlas's project files and URLs, so an Atlas project runs as it is: atlas.hcl's envs as `Settings`
(project.py, through hcl.py's evaluation of the file python-hcl2 parses), the desired schemas its ``src``
names (sources.py) and Atlas's database and dev URLs (urls.py)."""

from atlembic.atlas.project import AtlasEnv, config_path, load_env, load_envs
from atlembic.atlas.urls import dev_target, target_url

__all__ = ["AtlasEnv", "config_path", "dev_target", "load_env", "load_envs", "target_url"]
