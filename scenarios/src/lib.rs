//! Scenario drivers.
