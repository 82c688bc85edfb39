"""Learn: the model in plain language, a glossary, and the full documentation."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

__all__: list[str] = []

#: The documents: packaged with an installed dirisk (sim/docs), or the checkout's docs/.
DOCS = next(
    (
        folder
        for folder in (
            Path(__file__).resolve().parents[2] / "docs",
            Path(__file__).resolve().parents[3] / "docs",
        )
        if (folder / "ODD.md").is_file()
    ),
    Path(__file__).resolve().parents[3] / "docs",
)

GLOSSARY = {
    "Abliteration": "Removing a model's refusal behaviour by deleting the single direction in "
    "its activations that mediates refusal. The model keeps its abilities but "
    "stops saying no.",
    "Over-refusal": "Refusing a request that is actually fine: a chemistry student's question, "
    "a security researcher's exploit analysis, or 'how do I kill a Python "
    "process'. It is the cost side of strict safety.",
    "KYC (know your customer)": "Checking a user's identity before serving sensitive "
    "requests. Verified researchers pass; criminals need a forged "
    "identity; some honest users give up.",
    "Geo-blocking": "A jurisdiction stopping its residents from reaching foreign services. A "
    "VPN makes a user appear to be somewhere else and gets around it.",
    "Extraterritorial reach": "A jurisdiction applying its rules to foreign providers that "
    "serve its residents, as the EU AI Act does.",
    "Validators": "In a Bittensor-like network, participants with stake who score the miners "
    "(nodes). Traffic and rewards follow their consensus; they can test miners "
    "with harmful prompts and punish those that answer.",
    "Leakage": "Requests that a requester's home jurisdiction prohibits, served anyway, often "
    "by a node in another jurisdiction.",
    "Treaty": "Jurisdictions agreeing to enforce together: they audit nodes serving each "
    "other's residents and take down violators hosted at home.",
}

st.title("How dirisk works")
st.markdown("""
**dirisk** is a simulation of many small actors, an *agent-based model*. Every simulated
day:

1. **People send requests** to AI models: everyday questions, legitimate security or
   chemistry work that *looks* dangerous, and, from a few malicious actors, genuinely
   harmful requests (phishing, malware, weapons).
2. **A market routes each request** to a compute node somewhere in the world. Some
   countries block foreign nodes; VPNs get around that.
3. **The node answers or refuses.** Safety-trained models refuse most harmful requests
   but also some harmless ones; "uncensored" and "abliterated" models refuse almost
   nothing. A refused user may try again elsewhere.
4. **Regulators audit nodes**, fine them and take them down, at home and (with treaties
   or extraterritorial rules) abroad.
5. **Everyone adapts**: nodes move to cheaper or laxer places or switch models;
   malicious users remember which nodes serve them and tell each other.

The simulator takes no side: the same rules can show a policy failing (harm just moves
abroad) or holding (treaty, identity checks and protocol-level checks together), and
show what each costs legitimate users.
""")
st.header("Glossary")
for term, meaning in GLOSSARY.items():
    st.markdown(f"**{term}.** {meaning}")
for title, name in (
    ("The model description (ODD protocol)", "ODD.md"),
    ("Where the numbers come from (calibration)", "CALIBRATION.md"),
):
    with st.expander(title):
        path = DOCS / name
        if path.is_file():
            st.markdown(path.read_text(encoding="utf-8"))
        else:
            st.warning(
                f"{name} is not installed with this copy of dirisk; see the docs/ folder "
                "of the source repository."
            )
