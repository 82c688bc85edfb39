"""Reach: which nodes a request can reach from where it appears to be and where it
enters the market (geo-blocks, a gateway's blocked jurisdictions, p2p neighbourhoods)."""

from __future__ import annotations

import networkx as nx
import numpy as np

__all__ = ["neighbourhoods", "reach_groups"]


def reach_groups(
    host: np.ndarray, geo_block: np.ndarray, *, blocked: np.ndarray, neighbourhoods: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reach groups and the group of every (entry point, apparent jurisdiction).

    Args:
        host: (N,) host jurisdiction of each node.
        geo_block: (J,) bool, residents (as they appear) reach only domestic nodes.
        blocked: (J,) bool, requests appearing from there reach nothing (a gateway's
            geo-block).
        neighbourhoods: (E, N) bool, nodes each entry point discovers (one all-True row
            outside peer-to-peer).

    Returns:
        ``(reachable, lookup)``: (G, N) bool reach of each group and (E, J) group index.
    """
    n_jur = geo_block.size
    blockers = np.flatnonzero(geo_block)
    rows = [np.ones(host.size, dtype=bool)]
    rows += [host == j for j in blockers]
    rows.append(np.zeros(host.size, dtype=bool))
    base = np.vstack(rows)  # (K, N): everyone, each blocker's domestic nodes, nothing
    kind = np.zeros(n_jur, dtype=np.int64)
    kind[blockers] = np.arange(1, blockers.size + 1)
    kind[blocked] = base.shape[0] - 1
    reachable = (neighbourhoods[:, None, :] & base[None, :, :]).reshape(
        neighbourhoods.shape[0] * base.shape[0], host.size
    )
    lookup = np.arange(neighbourhoods.shape[0])[:, None] * base.shape[0] + kind[None, :]
    return reachable, lookup


def neighbourhoods(graph: nx.Graph, entries: np.ndarray, depth: int, n_nodes: int) -> np.ndarray:
    """(E, N) bool: nodes within ``depth`` hops of each entry node."""
    out = np.zeros((entries.size, n_nodes), dtype=bool)
    for row, entry in enumerate(entries.tolist()):
        if entry in graph:
            near = nx.single_source_shortest_path_length(graph, entry, cutoff=depth)
            out[row, list(near)] = True
    return out
