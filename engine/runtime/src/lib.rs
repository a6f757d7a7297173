//! FIX engine runtime: transports, agents, rings, the fixeng CLI and the demo (work in progress).
