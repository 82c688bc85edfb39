"""Enforcement kernels: who violated which rules this step, and which audits find it.

Pure functions on arrays; :class:`sim.engine.jurisdictions.Jurisdiction` agents call them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Evidence", "Scope", "audit", "audit_scope", "fine_amounts", "gather_evidence"]


@dataclass(frozen=True)
class Evidence:
    """What enforcement can know about one step's served requests."""

    host_violations: np.ndarray  #: (N,) served requests the host's policy prohibits
    foreign_violations: np.ndarray  #: (J, N) served to j's apparent residents, prohibited
    #: by j, by a node hosted elsewhere (zero rows for non-extraterritorial j)
    foreign_reach: np.ndarray  #: (J, N) bool, foreign node served j's apparent residents


def gather_evidence(
    node: np.ndarray,
    category: np.ndarray,
    group: np.ndarray,
    *,
    host: np.ndarray,
    prohibited: np.ndarray,
    extraterritorial: np.ndarray,
) -> Evidence:
    """Count policy violations among served requests.

    Args:
        node, category, group: (s,) serving node, category and apparent jurisdiction of
            each *served* request.
        host: (N,) host jurisdiction of each node.
        prohibited: (J, C) bool content policies.
        extraterritorial: (J,) bool, jurisdiction looks at foreign nodes serving its
            residents (extraterritorial reach or treaty partners).

    Returns:
        Violations against the host's rules and against extraterritorial rules of the
        requester's apparent jurisdiction.
    """
    n_nodes, (n_jur, n_cat) = host.size, prohibited.shape
    banned = prohibited.ravel()
    node_host = host[node]
    host_viol = np.bincount(node[banned[node_host * n_cat + category]], minlength=n_nodes)
    foreign = extraterritorial[group].nonzero()[0]
    apparent = group[foreign]
    abroad = node_host[foreign] != apparent
    foreign, apparent = foreign[abroad], apparent[abroad]
    cell = apparent * n_nodes + node[foreign]
    reach = np.zeros(n_jur * n_nodes, dtype=bool)
    reach[cell] = True  # served at least once (a flag per cell, no counts)
    reach = reach.reshape(n_jur, n_nodes)
    viol = banned[apparent * n_cat + category[foreign]]
    foreign_viol = np.bincount(cell[viol], minlength=n_jur * n_nodes).reshape(n_jur, n_nodes)
    return Evidence(host_violations=host_viol, foreign_violations=foreign_viol, foreign_reach=reach)


@dataclass(frozen=True)
class Scope:
    """Which nodes each jurisdiction can audit this step, and which of them broke its
    rules. Auditors act in turn: a node taken down leaves every row of ``in_reach``."""

    in_reach: np.ndarray  #: (J, N) bool, active, and hosted by j or foreign within reach
    violated: np.ndarray  #: (J, N) bool, served something j's applicable rules prohibit


def audit_scope(
    evidence: Evidence,
    *,
    host: np.ndarray,
    active: np.ndarray,
    extraterritorial: np.ndarray,
    partners: np.ndarray,
) -> Scope:
    """Every jurisdiction's audit scope at once.

    Jurisdiction j reaches the nodes it hosts and the foreign nodes that served its
    apparent residents: all of them if it is extraterritorial, otherwise those hosted by a
    treaty partner (joint audits). A domestic node violated if it served requests its host
    prohibits; a foreign one if it served j's apparent residents requests j prohibits.

    Args:
        evidence: the step's violations.
        host: (N,) host jurisdiction of each node.
        active: (N,) bool, node is active (only active nodes are audited).
        extraterritorial: (J,) bool, jurisdiction's own extraterritorial reach.
        partners: (J, J) bool treaty links.
    """
    domestic = host[None, :] == np.arange(partners.shape[0])[:, None]
    abroad = evidence.foreign_reach & (extraterritorial[:, None] | partners)[:, host]
    violated = np.where(
        domestic, evidence.host_violations[None, :] > 0, evidence.foreign_violations > 0
    )
    return Scope(in_reach=(domestic | abroad) & active, violated=violated)


def audit(
    candidates: np.ndarray,
    violated: np.ndarray,
    *,
    audit_rate: float,
    detection_probability: float,
    max_audits: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Audit a random share of candidate nodes and detect their violations.

    Each candidate is audited with probability ``audit_rate``, capped at ``max_audits``
    audits (a uniformly random subset); an audited violator is detected with
    ``detection_probability``.

    Args:
        candidates: (a,) node ids in reach.
        violated: (a,) bool, candidate broke the auditor's rules this step.

    Returns:
        ``(audited, detected)`` node ids.
    """
    n_audits = int(min(rng.binomial(candidates.size, audit_rate), max_audits))
    if n_audits == 0:
        empty = candidates[:0]
        return empty, empty
    pick = rng.choice(candidates.size, size=n_audits, replace=False)
    found = violated[pick] & (rng.random(n_audits) < detection_probability)
    return candidates[pick], candidates[pick[found]]


def fine_amounts(annual_revenue: np.ndarray, *, share: float, minimum: float) -> np.ndarray:
    """Fine per detected node: ``max(minimum, share * annual revenue)`` in USD."""
    return np.maximum(minimum, share * annual_revenue)
