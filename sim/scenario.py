"""Scenario files: the pydantic schema, YAML loading with ``extends:``, and error reporting.

A scenario is the single source of every parameter of a run. It is written in YAML,
may inherit from a preset or another file with ``extends:``, and is validated as a
whole after merging. Every validation problem is raised as a :class:`ScenarioError`
whose message names the file, the dotted field path and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

__all__ = [
    "Adaptation",
    "Category",
    "Document",
    "Enforcement",
    "EnforcementChange",
    "EnforcementPatch",
    "Event",
    "Gateway",
    "HostingChange",
    "JurisdictionSpec",
    "MarketSpec",
    "ModelKind",
    "ModelRelease",
    "NodeNetwork",
    "NodeShock",
    "Nodes",
    "NonNegative",
    "PACKAGE_DIR",
    "PRESET_DIRS",
    "PeerToPeer",
    "PolicyChange",
    "PolicyDynamics",
    "Probability",
    "REQUESTER_KINDS",
    "Recording",
    "RequesterKind",
    "RequesterOverride",
    "RequesterProfile",
    "RequestersSpec",
    "SHARE_TOLERANCE",
    "Scenario",
    "ScenarioError",
    "StrictModel",
    "TreatySigned",
    "UncertaintyRange",
    "Validators",
    "Variant",
    "check_references",
    "deep_merge",
    "expand_path",
    "from_pydantic",
    "json_schema",
    "list_presets",
    "load_raw",
    "load_scenario",
    "parse_yaml",
    "preset_path",
    "read_yaml",
    "resolve",
    "scenario_to_yaml",
    "schema_bounds",
    "set_path",
    "validate",
]


def _unit_interval(value: float) -> float:
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise PydanticCustomError(
            "probability", "expected a number in [0, 1] (a probability or share)"
        )
    return value


Probability = Annotated[
    float,
    AfterValidator(_unit_interval),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
NonNegative = Annotated[float, Field(ge=0.0)]
RequesterKind = Literal["benign", "dual_use", "malicious"]
REQUESTER_KINDS: tuple[str, ...] = ("benign", "dual_use", "malicious")
SHARE_TOLERANCE = 1e-6

PACKAGE_DIR = Path(__file__).resolve().parent
PRESET_DIRS: tuple[Path, ...] = (PACKAGE_DIR / "scenarios", PACKAGE_DIR.parent / "scenarios")


class ScenarioError(ValueError):
    """A scenario (or experiment) file is missing, malformed or inconsistent.

    Attributes:
        source: The file (or ``<dict>``) the problem was found in.
        path: Dotted field path of the offending value ("" for the whole file).
        expected: What a valid value looks like.
    """

    def __init__(self, source: str, path: str, expected: str) -> None:
        self.source, self.path, self.expected = source, path, expected
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {expected}")


class StrictModel(BaseModel):
    """Base for every schema block: unknown keys are errors, values are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _patch_of(
    model: type[BaseModel], name: str, doc: str, *, fields: tuple[str, ...] | None = None
) -> type[BaseModel]:
    """A model whose fields are ``model``'s (all, or ``fields``), each optional with the
    same bounds and validators, default None: a patch that changes only what it sets."""
    spec: dict[str, Any] = {}
    for field_name in fields or tuple(model.model_fields):
        info = model.model_fields[field_name]
        kind = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        spec[field_name] = (kind | None, None)
    return create_model(name, __base__=StrictModel, __doc__=doc, __module__=__name__, **spec)


class Category(StrictModel):
    """A request category: what a request looks like, independent of who sends it."""

    description: str = ""
    harmful: bool = Field(
        description="Serving it to a malicious requester counts as harm completed."
    )
    dual_use: bool = Field(
        False, description="Legitimate work whose requests look harmful (security, chem/bio)."
    )
    resembles: list[str] = Field(
        default_factory=list,
        description="Categories whose compliance filter also catches this one "
        "(at the filter's false-positive rate): the source of filter over-refusal.",
    )


class ModelKind(StrictModel):
    """A kind of model a node can serve, with its refusal behaviour per category."""

    description: str = ""
    refusal: dict[str, Probability] = Field(
        description="Probability that the model refuses a request of each category (every "
        "category must be listed)."
    )
    jailbreak_susceptibility: Probability = Field(
        description="Probability that a jailbreak attempt defeats the model's refusal."
    )
    available: bool = Field(
        True, description="Nodes can serve it from the start (False: after its release event)."
    )
    quality: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1.0,
        description="Relative answer quality (1: the best); a node's routing weight "
        "scales with quality^market.quality_elasticity.",
    )


class Enforcement(StrictModel):
    """A jurisdiction's enforcement profile."""

    audit_rate: Probability = Field(0.0, description="Share of nodes in reach audited per day.")
    detection_probability: Probability = Field(
        0.0, description="Probability that an audit of a violating node finds the violation."
    )
    fine_share_of_annual_revenue: Probability = Field(
        0.0, description="Fine per detected violation, as a share of annualised revenue."
    )
    fine_min_usd: NonNegative = Field(0.0, description="Floor of a fine, in USD.")
    takedown_probability: Probability = Field(
        0.0, description="Probability that a detected domestic node is taken down."
    )
    geo_block_foreign: bool = Field(
        False, description="Residents (as they appear) can reach only domestic nodes."
    )
    extraterritorial: bool = Field(
        False,
        description="Rules apply to foreign nodes serving (apparent) residents: compliant "
        "foreign nodes filter for it, and it audits and fines foreign nodes that serve them.",
    )
    kyc_mandate: bool = Field(
        False,
        description="Compliant nodes hosted here (and, if extraterritorial, serving its "
        "residents) require verified identity for KYC categories.",
    )
    audit_cost_usd: NonNegative = Field(0.0, description="Cost of one audit, USD.")
    budget_usd_per_day: NonNegative | None = Field(
        None, description="Enforcement budget per day in USD; caps audits. None: unlimited."
    )


EnforcementPatch = _patch_of(
    Enforcement,
    "EnforcementPatch",
    "Fields of :class:`Enforcement` to change; unset fields keep their value.",
)


class RequesterProfile(StrictModel):
    """Behaviour of one kind of requester."""

    share: Probability = Field(description="Share of all requesters of this kind.")
    requests_per_day: NonNegative = Field(description="Mean requests per requester per day.")
    category_mix: dict[str, Probability] = Field(
        description="Probability of each category per request (sums to 1)."
    )
    persistence: Annotated[int, Field(ge=0, le=50)] = Field(
        description="Retries after a refusal before giving up."
    )
    vpn_use: Probability = Field(
        0.0, description="Share of requesters who appear in another jurisdiction through a VPN."
    )
    jailbreak_attempt: Probability = Field(
        0.0, description="Probability that a request carries a jailbreak."
    )
    kyc_verified: Probability = Field(
        0.0,
        description="Share holding a verified identity (for malicious actors: a forged one).",
    )
    kyc_give_up: Probability = Field(
        0.0,
        description="Probability that a request stopped by a KYC gate is abandoned "
        "rather than retried elsewhere (the friction of verification).",
    )
    memory: Probability = Field(
        0.0, description="Probability of remembering the node that served a request."
    )
    loyalty: Probability = Field(
        0.0, description="Probability that a request goes first to the remembered node."
    )
    word_of_mouth: Probability = Field(
        0.0,
        description="Daily probability that a requester without a remembered node "
        "learns one from others of its kind (a shared list).",
    )


RequesterOverride = _patch_of(
    RequesterProfile,
    "RequesterOverride",
    "Fields of a requester profile that differ for one jurisdiction's residents.",
    fields=(
        "requests_per_day",
        "category_mix",
        "persistence",
        "vpn_use",
        "jailbreak_attempt",
        "kyc_verified",
    ),
)


class JurisdictionSpec(StrictModel):
    """An enforcement regime with its share of requesters and hosting."""

    description: str = ""
    requester_share: Probability = Field(description="Share of all requesters resident here.")
    hosting_share: Probability = Field(description="Share of all nodes hosted here at start.")
    hosting_cost_usd_per_day: NonNegative = Field(
        description="Cost of running one node here for one day, USD."
    )
    licence_cost_usd: NonNegative = Field(
        0.0,
        description="One-off cost for a node to start operating here (licensing, "
        "registration), paid on entry or relocation into it, USD.",
    )
    prohibited: list[str] = Field(
        default_factory=list, description="Categories its content policy prohibits."
    )
    enforcement: Enforcement = Field(default_factory=Enforcement)
    model_mix: dict[str, Probability] = Field(
        description="Shares of the model kinds served by nodes hosted here (sum to 1)."
    )
    compliance_share: Probability = Field(
        0.0, description="Share of nodes hosted here that run its compliance filter and KYC."
    )
    requesters: dict[RequesterKind, RequesterOverride] = Field(
        default_factory=dict,
        description="How its residents differ from the requester "
        "profiles (e.g. more VPN use behind a firewall).",
    )


class RequestersSpec(StrictModel):
    """The requester population."""

    count: Annotated[int, Field(ge=0)] = Field(description="Number of requesters.")
    kinds: dict[RequesterKind, RequesterProfile]


class Nodes(StrictModel):
    """The compute-node market at the start of a run."""

    count: Annotated[int, Field(ge=0)] = Field(description="Number of nodes at start.")
    capacity_per_day: Annotated[float, Field(gt=0)] = Field(
        description="Median requests a node can process per day."
    )
    capacity_dispersion: NonNegative = Field(0.5, description="Log-normal sigma of node capacity.")
    price_usd_per_request: Annotated[float, Field(gt=0)] = Field(
        description="Median price of one request, USD."
    )
    price_dispersion: NonNegative = Field(0.2, description="Log-normal sigma of node price.")
    filter_recall: Probability = Field(
        description="Probability that a compliance filter catches a prohibited request."
    )
    filter_false_positive: Probability = Field(
        description="Probability that a filter catches a request resembling a prohibited one."
    )


class Gateway(StrictModel):
    """A central gateway in front of the nodes, with its own policy."""

    prohibited: list[str] = Field(
        default_factory=list, description="Categories the gateway refuses."
    )
    filter_recall: Probability = Field(
        0.9, description="Probability that the gateway catches a prohibited request."
    )
    kyc_categories: list[str] = Field(
        default_factory=list, description="Categories the gateway serves only to verified users."
    )
    geo_block: list[str] = Field(
        default_factory=list,
        description="Jurisdictions (as requesters appear) it refuses to serve.",
    )


class PeerToPeer(StrictModel):
    """Discovery through the node network: reach is a neighbourhood of an entry node."""

    entry_points: Annotated[int, Field(ge=1)] = Field(
        20, description="Bootstrap nodes; each requester discovers from one of them."
    )
    search_depth: Annotated[int, Field(ge=0, le=20)] = Field(
        2, description="Hops on the node network a requester's discovery reaches."
    )


class Validators(StrictModel):
    """A Bittensor-like protocol: validators score miners; traffic and emissions follow
    the stake-weighted consensus of the scores (Yuma consensus)."""

    count: Annotated[int, Field(ge=1, le=1024)] = Field(
        64, description="Validators (Bittensor subnets have 64 validator permits)."
    )
    stake_dispersion: NonNegative = Field(
        1.5, description="Log-normal sigma of validator stake (concentrated stake: large)."
    )
    miners_per_subnet: Annotated[int, Field(ge=1)] = Field(
        256, description="Miner slots per subnet (256 UIDs on a Bittensor subnet)."
    )
    probe_rate: Probability = Field(
        0.0, description="Share of miners each validator probes with a harmful prompt per day."
    )
    probe_categories: list[str] | None = Field(
        None, description="Categories of probe prompts (None: every harmful category)."
    )
    penalty: Probability = Field(
        0.9,
        description="Share of a miner's running score a validator removes when the "
        "miner serves a probe.",
    )
    score_memory: Probability = Field(
        0.9, description="Weight of the past in a validator's moving average of scores."
    )
    consensus_quantile: Probability = Field(
        0.5,
        description="Stake quantile of the consensus weight (Yuma kappa: 0.5, the "
        "stake-weighted median); weights above consensus are clipped to it.",
    )
    observation_noise: NonNegative = Field(
        0.1, description="Log-normal sigma of a validator's view of a miner's service rate."
    )
    emission_usd_per_subnet_day: NonNegative = Field(
        0.0,
        description="Emissions paid to a subnet's miners each day in proportion to incentive, USD.",
    )


class MarketSpec(StrictModel):
    """How requests reach nodes."""

    protocol: Literal["open", "gateway", "p2p", "validators"] = Field(
        "open",
        description="open: any node the apparent jurisdiction allows, weighted by capacity x "
        "price^-elasticity; gateway: the same behind a central gateway's policy; p2p: only "
        "nodes within search depth of the requester's entry node; validators: weighted by "
        "validator consensus (incentive).",
    )
    price_elasticity: NonNegative = Field(
        1.0, description="Exponent of price in the routing weight."
    )
    quality_elasticity: NonNegative = Field(
        1.0,
        description="Exponent of model quality in the routing weight (0: quality does not matter).",
    )
    kyc_categories: list[str] | None = Field(
        None,
        description="Categories behind KYC where mandated; None: every dual-use or harmful "
        "category.",
    )
    gateway: Gateway = Field(default_factory=Gateway)
    p2p: PeerToPeer = Field(default_factory=PeerToPeer)
    validators: Validators = Field(default_factory=Validators)


class Recording(StrictModel):
    """What is recorded besides the per-step tables."""

    node_snapshot_every: Annotated[int, Field(ge=0)] = Field(
        0, description="Write every node's state every N steps (0: only after the last step)."
    )


class NodeNetwork(StrictModel):
    """The network over which nodes imitate each other and new models spread."""

    kind: Literal["small_world", "scale_free", "random"] = Field(
        "small_world", description="Watts-Strogatz, Barabasi-Albert or Erdos-Renyi graph."
    )
    mean_degree: Annotated[int, Field(ge=2, le=100)] = Field(
        6, description="Mean number of neighbours per node."
    )
    rewiring: Probability = Field(0.1, description="Watts-Strogatz rewiring probability.")


class Adaptation(StrictModel):
    """How nodes revise what they do: comply or defy, relocate, switch model, exit, enter."""

    enabled: bool = Field(False, description="Nodes adapt at all.")
    every_steps: Annotated[int, Field(ge=1)] = Field(7, description="Days between revisions.")
    revision_rate: Probability = Field(
        0.1, description="Share of active nodes that reconsider at a revision."
    )
    rule: Literal["logit", "imitation", "mix"] = Field(
        "logit",
        description="logit: bounded-rational choice on expected profit; imitation: copy a "
        "better-off network neighbour; mix: imitation with probability imitation_weight.",
    )
    rationality: NonNegative = Field(
        50.0,
        description="Logit precision on profit per unit of full-load revenue "
        "(0: choose at random; large: pick the best).",
    )
    imitation_weight: Probability = Field(0.5, description="Share of imitators under mix.")
    imitation_sensitivity: NonNegative = Field(
        10.0,
        description="Fermi-rule slope: copy probability 1/(1+exp(-s x profit gap)), "
        "profit gap per unit of full-load revenue.",
    )
    can_comply: bool = Field(True, description="Nodes may install or remove the filter.")
    can_relocate: bool = Field(True, description="Nodes may move to another jurisdiction.")
    can_switch_model: bool = Field(True, description="Nodes may change the model they serve.")
    can_exit: bool = Field(True, description="Nodes may leave the market.")
    relocation_cost_usd: NonNegative = Field(60.0, description="One-off cost of moving, USD.")
    relocation_delay_steps: Annotated[int, Field(ge=0)] = Field(
        7, description="Days a moving node is offline."
    )
    switch_cost_usd: NonNegative = Field(10.0, description="One-off cost of a model switch, USD.")
    compliance_cost_share: Probability = Field(
        0.05, description="Revenue lost to running a filter and KYC, besides what they block."
    )
    planning_horizon_days: Annotated[float, Field(gt=0)] = Field(
        90.0, description="Days over which one-off costs and takedown losses are weighed."
    )
    profit_memory: Probability = Field(
        0.8, description="Weight of the past in a node's moving average of daily profit."
    )
    entry_rate: NonNegative = Field(
        0.0,
        description="New nodes per day, as a share of active nodes, per unit of mean "
        "profit margin (0: no entry).",
    )


class PolicyDynamics(StrictModel):
    """How jurisdictions change their rules, and how treaties grow."""

    enabled: bool = Field(False, description="Jurisdictions revise their rules at all.")
    every_steps: Annotated[int, Field(ge=1)] = Field(30, description="Days between revisions.")
    diffusion_rate: Probability = Field(
        0.0,
        description="Brussels effect: at a revision, a jurisdiction adopts a prohibition "
        "with probability diffusion_rate x the (treaty- and trade-weighted) share of "
        "adopters among its partners.",
    )
    treaty_weight: Probability = Field(
        0.5, description="Weight of treaty partners (vs trade partners) in diffusion."
    )
    diffusing_categories: list[str] | None = Field(
        None, description="Prohibitions that can diffuse (None: every harmful category)."
    )
    harm_threshold_per_1000: NonNegative | None = Field(
        None,
        description="Harmful requests completed for residents per 1,000 residents per "
        "day above which a jurisdiction tightens (None: never).",
    )
    tighten_factor: Annotated[float, Field(ge=1.0)] = Field(
        1.5, description="Audit-rate multiplier when tightening."
    )
    hosting_loss_threshold: Probability | None = Field(
        None,
        description="Share of its initial nodes lost above which a jurisdiction relaxes "
        "enforcement to win its hosting industry back (None: never).",
    )
    relax_factor: Annotated[float, Field(ge=1.0)] = Field(
        1.5, description="Audit-rate divisor when relaxing."
    )
    treaty_growth_rate: Probability = Field(
        0.0,
        description="At a revision, a non-member joins a treaty with probability "
        "treaty_growth_rate x its share of cross-border traffic with members.",
    )
    signal_memory: Probability = Field(
        0.9, description="Weight of the past in the moving averages of harm and trade."
    )


class _Event(StrictModel):
    step: Annotated[int, Field(ge=0)] = Field(description="Step at whose end the event fires.")
    note: str = ""


class PolicyChange(_Event):
    """A jurisdiction prohibits or allows categories."""

    kind: Literal["policy_change"]
    jurisdiction: str
    prohibit: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)


class EnforcementChange(_Event):
    """A jurisdiction changes its enforcement profile."""

    kind: Literal["enforcement_change"]
    jurisdiction: str
    changes: EnforcementPatch


class HostingChange(_Event):
    """The cost of hosting a node in a jurisdiction changes (new data centres, energy
    prices, a jurisdiction opening up to hosting)."""

    kind: Literal["hosting_change"]
    jurisdiction: str
    hosting_cost_usd_per_day: NonNegative


class TreatySigned(_Event):
    """Jurisdictions join an enforcement treaty (every pair is linked)."""

    kind: Literal["treaty_signed"]
    jurisdictions: Annotated[list[str], Field(min_length=2)]
    name: str = "treaty"


class Variant(StrictModel):
    """A derivative of a released model (an abliterated or uncensored fine-tune)."""

    model: str
    delay_steps: Annotated[int, Field(ge=0)] = Field(
        description="Days after the release until the variant is available."
    )


class ModelRelease(_Event):
    """A model kind is released; it (and later its variants) spread among nodes.

    A share switch at once; afterwards each active node not serving it adopts it each day
    with probability ``innovation + imitation x (share of its network neighbours serving
    it)`` (a Bass diffusion on the node network).
    """

    kind: Literal["model_release"]
    model: str
    adoption_share: Probability = Field(
        0.0, description="Share of active nodes (in the listed jurisdictions) switching at once."
    )
    innovation: Probability = Field(0.0, description="Bass innovation rate per day.")
    imitation: Probability = Field(0.0, description="Bass imitation rate per day.")
    variants: list[Variant] = Field(
        default_factory=list,
        description="Derivatives that follow after a delay and diffuse with the same rates.",
    )
    jurisdictions: list[str] | None = None


class NodeShock(_Event):
    """Nodes leave (remove) or arrive (add): ``count`` plus ``fraction`` of the active
    nodes in scope (one jurisdiction, or all)."""

    kind: Literal["node_shock"]
    action: Literal["remove", "add"]
    fraction: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        0.0, description="Share of the active nodes in scope removed or added (add may exceed 1)."
    )
    count: Annotated[int, Field(ge=0)] = Field(0, description="Nodes removed or added.")
    jurisdiction: str | None = Field(
        None, description="Scope; new nodes without one are spread by hosting share."
    )


Event = Annotated[
    PolicyChange | EnforcementChange | HostingChange | TreatySigned | ModelRelease | NodeShock,
    Field(discriminator="kind"),
]


class UncertaintyRange(StrictModel):
    """A scenario's own range for one uncertain parameter: it replaces the range of the
    uncertainty catalogue (``sim/data/uncertainty.yaml``) for this scenario, or adds a
    parameter the catalogue does not list."""

    range: tuple[float, float] = Field(
        description="Lower and upper bound in the parameter's unit (low < high, within the "
        "schema's bounds, containing the scenario's value)."
    )
    distribution: Literal["uniform", "triangular"] | None = Field(
        None, description="Shape of the draws (default: the catalogue's, else uniform)."
    )
    mode: float | None = Field(
        None,
        description="Most likely value of a triangular distribution (default: the "
        "scenario's value).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> UncertaintyRange:
        low, high = self.range
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"range must be [low, high] with low < high, got {list(self.range)}")
        if self.mode is not None:
            if self.distribution == "uniform":
                raise ValueError("mode applies to a triangular distribution only")
            if not low <= self.mode <= high:
                raise ValueError(f"mode {self.mode} must lie in the range {list(self.range)}")
        return self


class Document(StrictModel):
    """A whole input file (scenario or experiment): plain data and a content hash."""

    def to_dict(self) -> dict[str, Any]:
        """The document as plain data (JSON-compatible), defaults included."""
        return self.model_dump(mode="json")

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the document: matches results to inputs."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


class Scenario(Document):
    """A complete, validated scenario."""

    name: str
    description: str = ""
    question: str = Field("", description="The question this scenario answers.")
    seed: Annotated[int, Field(ge=0)] = 0
    steps: Annotated[int, Field(ge=1, le=100_000)] = 100
    categories: dict[str, Category]
    models: dict[str, ModelKind]
    jurisdictions: dict[str, JurisdictionSpec]
    requesters: RequestersSpec
    nodes: Nodes
    market: MarketSpec = Field(default_factory=MarketSpec)
    treaties: list[Annotated[list[str], Field(min_length=2)]] = Field(
        default_factory=list,
        description="Treaty groups in force at start (named 'treaty 1', 'treaty 2', ...); "
        "every pair in a group is linked.",
    )
    timeline: list[Event] = Field(default_factory=list)
    recording: Recording = Field(default_factory=Recording)
    node_network: NodeNetwork = Field(default_factory=NodeNetwork)
    adaptation: Adaptation = Field(default_factory=Adaptation)
    policy_dynamics: PolicyDynamics = Field(default_factory=PolicyDynamics)
    uncertainty: dict[str, UncertaintyRange | None] | None = Field(
        None,
        description="This scenario's changes to the uncertainty catalogue: a dotted path "
        "('*' for every key at a level) mapped to its own range, or to null to keep the "
        "parameter at its value in every future (sim.experiments.uncertainty).",
    )

    @model_validator(mode="after")
    def _non_empty(self) -> Scenario:
        for field in ("categories", "models", "jurisdictions"):
            if not getattr(self, field):
                raise ValueError(f"{field} must not be empty")
        return self

    @model_serializer(mode="wrap")
    def _without_empty_uncertainty(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A scenario without an uncertainty block dumps (and hashes) as it did before
        # the block existed.
        data = handler(self)
        if isinstance(data, dict) and not data.get("uncertainty"):
            data.pop("uncertainty", None)
        return data

    def profile(self, jurisdiction: str, kind: str) -> RequesterProfile:
        """The requester profile of ``kind`` for residents of ``jurisdiction`` (the
        kind's profile with the jurisdiction's overrides applied)."""
        base = self.requesters.kinds[kind]
        override = self.jurisdictions[jurisdiction].requesters.get(kind)
        if override is None:
            return base
        return base.model_copy(update=override.model_dump(exclude_none=True))

    def kyc_categories(self) -> list[str]:
        """Categories behind KYC where a jurisdiction mandates it."""
        if self.market.kyc_categories is not None:
            return list(self.market.kyc_categories)
        return [n for n, c in self.categories.items() if c.dual_use or c.harmful]


# --------------------------------------------------------------------------- loading


#: libyaml's safe loader where PyYAML was built with it (same result, much faster).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping with the safe loader, or raise ScenarioError."""
    if not path.is_file():
        raise ScenarioError(str(path), "", "file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "expected a UTF-8 text file") from None
    return parse_yaml(text, source=str(path))


def parse_yaml(text: str, *, source: str = "<string>") -> dict[str, Any]:
    """Parse YAML text (safe loader) into a mapping, or raise ScenarioError."""
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, "", f"invalid YAML at {where}{problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(source, "", f"expected a mapping at the top level, got {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    return type(value).__name__


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base``: mappings merge key by key, anything else replaces.

    A key set to ``null`` in ``override`` removes an inherited *mapping* (a jurisdiction,
    a model kind, an enforcement block); on any other value ``null`` is kept as a value.
    """
    merged = dict(base)
    for key, value in override.items():
        if value is None and key in merged and isinstance(merged[key], dict):
            del merged[key]
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def preset_path(name: str) -> Path | None:
    """Path of the preset scenario called ``name``, or None."""
    for directory in PRESET_DIRS:
        candidate = directory / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def list_presets() -> dict[str, str]:
    """Preset names mapped to the first line of their description, sorted by name."""
    found: dict[str, Path] = {}
    for directory in reversed(PRESET_DIRS):
        for path in directory.glob("*.yaml"):
            found[path.stem] = path
    out = {}
    for name in sorted(found):
        raw = read_yaml(found[name])
        description = str(raw.get("description", "")).strip().splitlines()
        out[name] = description[0] if description else ""
    return out


def resolve(ref: str, *, relative_to: Path | None = None) -> Path:
    """Turn a scenario reference (a path, or a preset name) into a file path."""
    candidate = Path(ref)
    if relative_to is not None and not candidate.is_absolute():
        nearby = relative_to / candidate
        if nearby.is_file() or nearby.suffix in (".yaml", ".yml"):
            return nearby
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate
    preset = preset_path(ref)
    if preset is None:
        names = list(list_presets())
        close = difflib.get_close_matches(ref, names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(names) or "none"
        raise ScenarioError(ref, "", f"no such file or preset ({hint}presets: {known})")
    return preset


def load_raw(ref: str | Path, *, _chain: tuple[Path, ...] = ()) -> tuple[dict[str, Any], str]:
    """Load a scenario file and everything it extends, merged, before validation.

    Returns:
        The merged mapping and the name of the file it came from.
    """
    path = resolve(str(ref), relative_to=_chain[-1].parent if _chain else None).resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError(str(_chain[-1]), "extends", f"expected no cycle, found {cycle}")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data, str(path)
    if not isinstance(parent, str):
        raise ScenarioError(
            str(path), "extends", f"expected a preset name or path, got {_kind(parent)}"
        )
    try:
        base, _ = load_raw(parent, _chain=(*_chain, path))
    except ScenarioError as exc:
        if exc.path or exc.source != parent:  # raised inside the parent: keep its location
            raise
        raise ScenarioError(str(path), "extends", f"{parent!r}: {exc.expected}") from None
    return deep_merge(base, data), str(path)


def load_scenario(
    ref: str | Path | dict[str, Any] | Scenario, *, source: str | None = None
) -> Scenario:
    """Load and validate a scenario from a path, a preset name, a mapping or a Scenario.

    Args:
        ref: The scenario.
        source: Name to report errors under for a mapping (e.g. an uploaded file's name).

    Raises:
        ScenarioError: naming the file, the field path and what was expected.
    """
    if isinstance(ref, Scenario):
        return ref
    if isinstance(ref, dict):
        data = dict(ref)
        source = source or "<dict>"
        parent = data.pop("extends", None)
        if parent is not None:
            base, _ = load_raw(parent)
            data = deep_merge(base, data)
    else:
        data, source = load_raw(ref)
    return validate(data, source=source)


def validate(data: dict[str, Any], *, source: str = "<dict>") -> Scenario:
    """Validate a merged mapping into a Scenario, checking cross-references too."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None
    check_references(scenario, source=source)
    return scenario


def from_pydantic(exc: ValidationError, source: str) -> ScenarioError:
    """The first pydantic error as a ScenarioError with a dotted path."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"]]
    # Discriminated unions add the tag name to the path; drop it for readability.
    if len(loc) >= 3 and loc[0] == "timeline" and loc[2] in _EVENT_KINDS:
        del loc[2]
    path = ".".join(loc)
    kind, msg = err["type"], err["msg"]
    value = err.get("input")
    if kind == "extra_forbidden":
        expected = "unknown field (check the spelling; `dirisk schema` lists the fields)"
    elif kind == "missing":
        expected = "required field is missing"
    elif kind == "probability":
        expected = f"{msg}, got {value!r}"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = _bounds_text(err.get("ctx", {}))
        expected = f"expected a number {bounds}, got {value!r}"
    elif kind == "literal_error" or kind == "union_tag_invalid":
        expected = f"{msg[0].lower()}{msg[1:]}, got {value!r}"
    else:
        expected = f"{msg[0].lower()}{msg[1:]}" + (
            f", got {value!r}" if not isinstance(value, dict | list) else ""
        )
    return ScenarioError(source, path, expected)


def _bounds_text(ctx: dict[str, Any]) -> str:
    parts = []
    for key, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            parts.append(f"{symbol} {ctx[key]}")
    return " and ".join(parts)


_EVENT_KINDS = {
    "policy_change",
    "enforcement_change",
    "hosting_change",
    "treaty_signed",
    "model_release",
    "node_shock",
}


def check_references(scenario: Scenario, *, source: str) -> None:
    """Check names that refer to other parts of the scenario, and shares that sum to 1.

    Raises:
        ScenarioError: for the first unknown name or share vector not summing to 1.
    """
    cats, models, jurs = set(scenario.categories), set(scenario.models), set(scenario.jurisdictions)

    def known(names: list[str] | set[str], universe: set[str], path: str, what: str) -> None:
        for name in names:
            if name not in universe:
                raise ScenarioError(
                    source, path, f"unknown {what} {name!r}; expected one of {sorted(universe)}"
                )

    def sums_to_one(values: list[float], path: str) -> None:
        total = math.fsum(values)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise ScenarioError(source, path, f"expected shares summing to 1, got {total:.6g}")

    for name, cat in scenario.categories.items():
        known(cat.resembles, cats, f"categories.{name}.resembles", "category")
    for name, model in scenario.models.items():
        known(model.refusal, cats, f"models.{name}.refusal", "category")
        missing = sorted(cats - set(model.refusal))
        if missing:
            raise ScenarioError(
                source,
                f"models.{name}.refusal",
                f"expected a value for every category; missing {missing}",
            )
    sums_to_one(
        [j.requester_share for j in scenario.jurisdictions.values()],
        "jurisdictions.*.requester_share",
    )
    sums_to_one(
        [j.hosting_share for j in scenario.jurisdictions.values()], "jurisdictions.*.hosting_share"
    )
    for name, jur in scenario.jurisdictions.items():
        for kind, override in jur.requesters.items():
            if override.category_mix is not None:
                path = f"jurisdictions.{name}.requesters.{kind}.category_mix"
                known(override.category_mix, cats, path, "category")
                sums_to_one(list(override.category_mix.values()), path)
        known(jur.prohibited, cats, f"jurisdictions.{name}.prohibited", "category")
        known(jur.model_mix, models, f"jurisdictions.{name}.model_mix", "model kind")
        for model_name, share in jur.model_mix.items():
            if share > 0 and not scenario.models[model_name].available:
                raise ScenarioError(
                    source,
                    f"jurisdictions.{name}.model_mix.{model_name}",
                    f"{model_name!r} is not available at the start (available: false): expected "
                    "share 0 (release it with a model_release event)",
                )
        sums_to_one(list(jur.model_mix.values()), f"jurisdictions.{name}.model_mix")
    kinds = scenario.requesters.kinds
    missing_kinds = [k for k in REQUESTER_KINDS if k not in kinds]
    if missing_kinds:
        raise ScenarioError(
            source, "requesters.kinds", f"expected every requester kind; missing {missing_kinds}"
        )
    sums_to_one([p.share for p in kinds.values()], "requesters.kinds.*.share")
    for kind, profile in kinds.items():
        known(profile.category_mix, cats, f"requesters.kinds.{kind}.category_mix", "category")
        sums_to_one(list(profile.category_mix.values()), f"requesters.kinds.{kind}.category_mix")
    if scenario.policy_dynamics.diffusing_categories is not None:
        known(
            scenario.policy_dynamics.diffusing_categories,
            cats,
            "policy_dynamics.diffusing_categories",
            "category",
        )
    market = scenario.market
    if market.kyc_categories is not None:
        known(market.kyc_categories, cats, "market.kyc_categories", "category")
    known(market.gateway.prohibited, cats, "market.gateway.prohibited", "category")
    known(market.gateway.kyc_categories, cats, "market.gateway.kyc_categories", "category")
    known(market.gateway.geo_block, jurs, "market.gateway.geo_block", "jurisdiction")
    if market.validators.probe_categories is not None:
        known(
            market.validators.probe_categories,
            cats,
            "market.validators.probe_categories",
            "category",
        )
    for i, group in enumerate(scenario.treaties):
        known(group, jurs, f"treaties.{i}", "jurisdiction")
    for i, event in enumerate(scenario.timeline):
        path = f"timeline.{i}"
        if event.step >= scenario.steps:
            raise ScenarioError(
                source,
                f"{path}.step",
                f"expected a step below steps={scenario.steps}, got {event.step}",
            )
        if isinstance(event, PolicyChange | EnforcementChange | HostingChange):
            known([event.jurisdiction], jurs, f"{path}.jurisdiction", "jurisdiction")
        if isinstance(event, PolicyChange):
            known(event.prohibit, cats, f"{path}.prohibit", "category")
            known(event.allow, cats, f"{path}.allow", "category")
        if isinstance(event, TreatySigned):
            known(event.jurisdictions, jurs, f"{path}.jurisdictions", "jurisdiction")
        if isinstance(event, ModelRelease):
            known([event.model], models, f"{path}.model", "model kind")
            known([v.model for v in event.variants], models, f"{path}.variants", "model kind")
            known(event.jurisdictions or [], jurs, f"{path}.jurisdictions", "jurisdiction")
        if isinstance(event, NodeShock) and event.jurisdiction is not None:
            known([event.jurisdiction], jurs, f"{path}.jurisdiction", "jurisdiction")
    if scenario.uncertainty:
        _check_uncertainty(scenario, source=source)


def expand_path(data: dict[str, Any], path: str) -> list[tuple[str, Any]]:
    """The places a dotted ``path`` names in a scenario mapping, with their values;
    ``*`` matches every key at its level (as in :func:`set_path`).

    Raises:
        ScenarioError: a key of the path does not exist, or lies below a value that is
            not a mapping.
    """
    places: list[tuple[str, Any]] = [("", data)]
    for key in path.split("."):
        deeper = []
        for prefix, value in places:
            where = prefix or "the top level"
            if not isinstance(value, dict):
                raise ScenarioError("<parameter>", path, f"{where} is not a mapping")
            if key != "*" and key not in value:
                raise ScenarioError(
                    "<parameter>",
                    path,
                    f"no field {key!r} under {where}; expected one of {sorted(value)}",
                )
            for name in list(value) if key == "*" else [key]:
                deeper.append((f"{prefix}.{name}" if prefix else str(name), value[name]))
        places = deeper
    return places


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """A type without Annotated and None arms, and the metadata found on the way."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata += extra
        elif origin in (typing.Union, types.UnionType):
            arms = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(arms) != 1:
                return annotation, metadata
            annotation = arms[0]
        else:
            return annotation, metadata


def schema_bounds(path: str) -> tuple[float, float, bool]:
    """The bounds the schema puts on the number at a dotted scenario ``path`` (``*`` or
    any name for a mapping key).

    Returns:
        Lower bound, upper bound (infinite where there is none) and whether the field
        holds whole numbers. A bound the schema excludes (``> 0``) is returned as the
        next representable number above (or below) it.

    Raises:
        ScenarioError: the path names no field of the schema.
    """
    annotation: Any = Scenario
    metadata: list[Any] = []
    for key in path.split("."):
        annotation, _ = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(key)
            if info is None:
                raise ScenarioError(
                    "<parameter>",
                    path,
                    f"no field {key!r} in {annotation.__name__}; expected one of "
                    f"{sorted(annotation.model_fields)}",
                )
            annotation, metadata = info.annotation, list(info.metadata)
        elif typing.get_origin(annotation) is dict:
            annotation, metadata = typing.get_args(annotation)[1], []
        else:
            raise ScenarioError("<parameter>", path, f"{key!r} lies below a value, not a block")
    annotation, more = _unwrap(annotation)
    metadata += more
    low, high = -math.inf, math.inf
    for item in list(metadata):
        if isinstance(item, FieldInfo):
            metadata += item.metadata
    for item in metadata:
        if getattr(item, "func", None) is _unit_interval:
            low, high = max(low, 0.0), min(high, 1.0)
        if getattr(item, "ge", None) is not None:
            low = max(low, float(item.ge))
        if getattr(item, "gt", None) is not None:
            low = max(low, math.nextafter(float(item.gt), math.inf))
        if getattr(item, "le", None) is not None:
            high = min(high, float(item.le))
        if getattr(item, "lt", None) is not None:
            high = min(high, math.nextafter(float(item.lt), -math.inf))
    return low, high, annotation is int


def _check_uncertainty(scenario: Scenario, *, source: str) -> None:
    """Every path of the uncertainty block names numbers of this scenario, and each range
    lies within the schema's bounds and contains the scenario's value.

    Raises:
        ScenarioError: at ``uncertainty.<path>``, for the first entry that does not.
    """
    data = scenario.to_dict()
    data.pop("uncertainty", None)
    for key, entry in (scenario.uncertainty or {}).items():
        where = f"uncertainty.{key}"
        try:
            places = expand_path(data, key)
            bounds = schema_bounds(key)
        except ScenarioError as exc:
            raise ScenarioError(source, where, f"unknown parameter path: {exc.expected}") from None
        for place, value in places:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ScenarioError(
                    source,
                    where,
                    f"expected a path to a number; {place} is {value!r} in this scenario",
                )
        if entry is None:
            continue
        low, high = entry.range
        if low < bounds[0] or high > bounds[1]:
            raise ScenarioError(
                source,
                where,
                f"expected a range within the schema's bounds [{bounds[0]:g}, {bounds[1]:g}], "
                f"got {list(entry.range)}",
            )
        for place, value in places:
            if not low <= value <= high:
                raise ScenarioError(
                    source,
                    where,
                    f"expected a range that contains the scenario's value ({place} = "
                    f"{value!r}), got {list(entry.range)}",
                )


def set_path(data: dict[str, Any], path: str, value: Any) -> int:
    """Set a dotted ``path`` in a scenario mapping; ``*`` matches every key at its level.

    Returns:
        How many places were set.

    Raises:
        ScenarioError: the path names a key that does not exist.
    """
    head, _, rest = path.partition(".")
    keys = list(data) if head == "*" else [head]
    count = 0
    for key in keys:
        if key not in data and not (rest == "" and head != "*"):
            raise ScenarioError(
                "<parameter>", path, f"no field {key!r} here; expected one of {sorted(data)}"
            )
        if rest:
            if not isinstance(data.get(key), dict):
                raise ScenarioError("<parameter>", path, f"{key!r} is not a mapping")
            count += set_path(data[key], rest, value)
        else:
            data[key] = value
            count += 1
    return count


def scenario_to_yaml(scenario: Scenario | dict[str, Any]) -> str:
    """The full merged scenario as YAML (no ``extends:``): running it reproduces a run."""
    data = scenario.to_dict() if isinstance(scenario, Scenario) else scenario
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def json_schema() -> dict[str, Any]:
    """The JSON schema of scenario files."""
    schema = Scenario.model_json_schema()
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "A preset name or a path (relative to this file) to inherit from.",
    }
    return schema
