"""Builds the unzipped application's job plan, without running it, in a Python that has only apache-flink.

``deploy validate`` runs this file by path with the service-like interpreter, so it imports
nothing from this project's source tree: only what the application zip holds.

    python job_plan.py APP_DIR PROPERTIES_FILE RESULT_JSON

The result names the Flink configuration the job's code set: as the application's own
``job.service_config`` reports it when the zip carries that module, else compared with what a
fresh environment and table environment hold.  ``deploy validate`` holds it to the service's list.
"""

from __future__ import annotations

import json
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

ALLOWLIST_MODULE = "job.service_config"


def settings(env: Any, t_env: Any) -> dict[str, str]:
    """Every Flink setting of ``env`` and ``t_env``, as the job would hand them to the cluster."""
    from pyflink.java_gateway import get_gateway

    # PyFlink has no public reader of the stream environment's whole configuration;
    # PythonConfigUtil is the one add_python_file itself writes through.
    util = get_gateway().jvm.org.apache.flink.python.util.PythonConfigUtil
    result = {str(k): str(v) for k, v in util.getEnvironmentConfig(env._j_stream_execution_environment).toMap().items()}
    result.update({str(k): str(v) for k, v in t_env.get_config().get_configuration().to_dict().items()})
    return result


def build_plan(app: Path, properties: Path) -> dict[str, Any]:
    # main.py run as the service runs it (not as __main__, so main() stays uncalled): its own
    # sys.path set-up and imports are part of what is checked.
    main = runpy.run_path(str(app / "job" / "main.py"), run_name="job_plan")
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    fresh = StreamExecutionEnvironment.get_execution_environment()
    baseline = settings(fresh, StreamTableEnvironment.create(fresh))

    config = main["build_config"](main["load_property_groups"](properties), {})
    service_config = _service_config()
    if service_config is not None:
        # The application's own account of what its code sets, the way the service starts it
        # (the run options' jar and pyFiles given, PyFlink's local-only keys left out).
        env, t_env = service_config.service_job(config)
        set_in_code = service_config.properties_set_in_code(env, t_env)
    else:
        env, t_env = main["service_environment"]()
        main["build_topology"](env, t_env, config)
        set_in_code = {k: v for k, v in settings(env, t_env).items() if baseline.get(k) != v}
    plan = json.loads(env.get_execution_plan())
    return {"operators": len(plan.get("nodes", [])), "set_in_code": set_in_code, "checked": service_config is not None}


def _service_config() -> Any:
    """The application's ``job.service_config``, or None when it carries none."""
    try:
        return __import__(ALLOWLIST_MODULE, fromlist=["properties_set_in_code"])
    except ModuleNotFoundError as error:
        if error.name == ALLOWLIST_MODULE:
            return None
        raise


def main(argv: list[str]) -> int:
    app, properties, output = (Path(arg).resolve() for arg in argv)
    # Not this folder first on the path: the application's own packages, as job/main.py sets them.
    sys.path[0:1] = [str(app), str(app / "python-libs")]
    result: dict[str, Any]
    try:
        result = {"error": None, **build_plan(app, properties)}
    except BaseException as error:  # noqa: BLE001 - whatever the job raises, SystemExit too, is the answer
        reason = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()
        result = {"error": reason[-1] if reason else type(error).__name__, "traceback": traceback.format_exc()}
    output.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
