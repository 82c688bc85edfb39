"""dirisk explorer: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="dirisk explorer", layout="wide")
st.navigation(
    [
        st.Page("sim/app/pages/run.py", title="Run", default=True),
        st.Page("sim/app/pages/watch.py", title="Watch"),
        st.Page("sim/app/pages/compare.py", title="Compare"),
        st.Page("sim/app/pages/why.py", title="Why it leaks"),
        st.Page("sim/app/pages/explore.py", title="Explore sweeps"),
        st.Page("sim/app/pages/learn.py", title="Learn"),
        st.Page("sim/app/pages/export.py", title="Export"),
    ]
).run()
