//! Verilator co-simulation of the sequencer RTL against hwsim (work in progress).
