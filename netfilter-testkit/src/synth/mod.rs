//! Message synthesis (under construction).
