"""Where the Temporal service is, and the client to it: an address and a namespace from the
command line, TLS and an API key from the environment (never from a file mas writes, never
into a log or the server's history).

    MAS_TEMPORAL_API_KEY    an API key (Temporal Cloud); implies TLS
    MAS_TEMPORAL_TLS_CERT   client certificate (PEM file) for mutual TLS, with ..._KEY
    MAS_TEMPORAL_TLS_KEY    its private key (PEM file)
    MAS_TEMPORAL_TLS_CA     the server's root CA (PEM file), when not a public one
"""

from __future__ import annotations

import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mas_cli.errors import UsageError
from mas_cli.spec.findings import did_you_mean

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.service import TLSConfig

DEFAULT_ADDRESS = "127.0.0.1:7233"  # `temporal server start-dev`
INSTALL_HINT = "pip install 'mas-cli[temporal]'"


@dataclass(frozen=True)
class Where:
    """A Temporal service, a namespace in it, and the task queue a batch's workers poll."""

    address: str = DEFAULT_ADDRESS
    namespace: str = "default"
    task_queue: str | None = None

    def queue(self, crew: str) -> str:
        """The task queue: the one given, else one per crew (`mas-<crew name>`)."""
        return self.task_queue or f"mas-{crew}"


def require_temporal() -> None:
    """Raises:
    UsageError: the Temporal SDK is not installed (it is an optional extra)."""
    if importlib.util.find_spec("temporalio") is None:
        raise UsageError(
            "--engine temporal needs the Temporal SDK (temporalio, an optional extra)",
            hint=INSTALL_HINT,
        )


async def connect(where: Where) -> Client:
    """A client to the service.

    Raises:
        UsageError: the service cannot be reached, or a TLS file cannot be read.
    """
    require_temporal()
    from temporalio.client import Client

    api_key = os.environ.get("MAS_TEMPORAL_API_KEY") or None
    tls = _tls()
    try:
        client = await Client.connect(
            where.address,
            namespace=where.namespace,
            api_key=api_key,
            tls=tls if tls is not None else api_key is not None,
            identity=f"mas@{socket.gethostname()}:{os.getpid()}",
        )
    except ValueError as exc:  # the SDK's own check of the address: a port out of range, none
        raise UsageError(
            f"--address {where.address!r}: not a Temporal address ({_first_line(exc)})",
            hint="give HOST:PORT, such as 127.0.0.1:7233",
        ) from None
    except RuntimeError as exc:
        raise UsageError(
            f"cannot reach Temporal at {where.address} (namespace {where.namespace}): "
            f"{_first_line(exc)}",
            hint="start one on this machine with: temporal server start-dev; or give "
            "--address HOST:PORT (and MAS_TEMPORAL_API_KEY or MAS_TEMPORAL_TLS_* for a cluster)",
        ) from None
    await _check_namespace(client, where)
    return client


async def _check_namespace(client: Client, where: Where) -> None:
    """A namespace the service does not have is named here, with the ones it has: left to
    the SDK, a worker fails its own validation with a raw gRPC status."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, ListNamespacesRequest
    from temporalio.service import RPCError, RPCStatusCode

    service = client.workflow_service
    try:
        await service.describe_namespace(DescribeNamespaceRequest(namespace=where.namespace))
        return
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            return  # not allowed to describe it (a narrow API key): the calls that follow say
    try:
        listed = await service.list_namespaces(ListNamespacesRequest(page_size=100))
        names = [n.namespace_info.name for n in listed.namespaces]
    except RPCError:
        names = []
    known = did_you_mean(where.namespace, names) if names else None
    raise UsageError(
        f"--namespace {where.namespace!r}: Temporal at {where.address} has no such namespace"
        + (f" ({known})" if known else ""),
        hint="give --namespace as the service names it (temporal operator namespace list)",
    )


def _tls() -> TLSConfig | None:
    names = ("MAS_TEMPORAL_TLS_CERT", "MAS_TEMPORAL_TLS_KEY", "MAS_TEMPORAL_TLS_CA")
    cert, key, ca = (_pem(name) for name in names)
    if cert is None and key is None and ca is None:
        return None
    if (cert is None) != (key is None):
        raise UsageError(
            "MAS_TEMPORAL_TLS_CERT and MAS_TEMPORAL_TLS_KEY go together (mutual TLS)",
            hint="set both, or neither",
        )
    from temporalio.service import TLSConfig

    return TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)


def _pem(name: str) -> bytes | None:
    path = os.environ.get(name)
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{name}={path}: cannot be read ({exc.strerror})", hint="give the path of a PEM file"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
