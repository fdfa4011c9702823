"""The FastAPI app of the health page, mounted by the Airflow API server under PREFIX.

Only a logged-in Airflow user who may read the `meta_capi_sync` DAG sees it: the API server's own
authentication (airflow.api_fastapi.core_api.security.get_user: a bearer token, else the UI's `_token`
cookie), then the auth manager's DAG permission. An anonymous browser is sent to the login page, an
anonymous script gets 401; neither reads the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

PREFIX = "/konektor-capi"
DAG_ID = "meta_capi_sync"  # the page shows this DAG's outcomes: who may read it may read them
_bearer = HTTPBearer(auto_error=False)
NO_STORE = {"Cache-Control": "no-store"}


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def airflow_user(request: Request, credentials: Credentials):
    """The Airflow user of the request, None when anonymous (no token, or an expired one)."""
    # Imported here: this module is imported by every Airflow process that loads plugins, the API server's
    # security module only matters in the API server.
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request=request, _oauth_token=None, bearer_credentials=credentials)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            return None
        raise  # a forged or revoked token: 403


def dag_reader(user: Annotated[Any, Depends(airflow_user)]):
    """The user, if the auth manager lets them read the DAG whose outcomes the page shows (403 if not)."""
    if user is None:
        return None
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    if not get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=DAG_ID), user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not read the DAG {DAG_ID}")
    return user


def _engine_from_connection() -> sa.Engine:
    from konektor_capi.db import make_engine
    from konektor_capi_airflow.connections import konektor_db_url

    return make_engine(konektor_db_url())


def create_app(engine_factory: Callable[[], sa.Engine] = _engine_from_connection) -> FastAPI:
    app = FastAPI(title="Meta CAPI sync health", docs_url=None, redoc_url=None, openapi_url=None)
    engines: list[sa.Engine] = []
    lock = threading.Lock()

    def engine() -> sa.Engine:
        # Made at the first request, not at import: the plugin is imported by processes with no database.
        with lock:
            if not engines:
                engines.append(engine_factory())
            return engines[0]

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user: Annotated[Any, Depends(dag_reader)]):
        if user is None:
            return RedirectResponse(_login_url(request), status.HTTP_303_SEE_OTHER)
        from konektor_capi.health import read_health
        from konektor_capi_health.page import render

        root = request.scope.get("root_path", "")
        html = render(read_health(engine()), airflow_base=root.removesuffix(PREFIX),
                      json_url=f"{root}/health.json")  # fmt: skip
        return HTMLResponse(html, headers=NO_STORE)

    @app.get("/health.json")
    def health_json(user: Annotated[Any, Depends(dag_reader)]):
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
        from fastapi.responses import JSONResponse

        from konektor_capi.health import as_json, read_health

        return JSONResponse(as_json(read_health(engine())), headers=NO_STORE)

    return app


def _login_url(request: Request) -> str:
    base = request.scope.get("root_path", "").removesuffix(PREFIX)
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=str(request.url))
    except RuntimeError:  # no auth manager in this process: the UI's root sends people to log in
        return f"{base}/"
