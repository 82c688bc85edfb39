"""Market protocols: who can reach which nodes, with what weight, behind which gateway.

* ``open``: a request reaches any active node its apparent jurisdiction allows
  (geo-blocking jurisdictions: domestic nodes only), weighted by capacity x
  price^-elasticity.
* ``gateway``: the same, behind a central gateway that refuses its prohibited categories
  (with its recall), gates its KYC categories and refuses geo-blocked jurisdictions.
* ``p2p``: a requester discovers nodes from its entry node: only nodes within the search
  depth on the node network are reachable, so reach and market share follow the network.
* ``validators``: reach as in ``open``; weights follow validator consensus
  (:mod:`sim.validators`).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from sim.scenario import Gateway


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


def gateway_rules(gateway: Gateway, categories: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(C,) refusal probability and (C,) KYC gate of a gateway's policy."""
    refusal = np.where(np.isin(categories, gateway.prohibited), gateway.filter_recall, 0.0)
    return refusal, np.isin(categories, gateway.kyc_categories)
