//! The nfnetlink wire layout (under construction).
