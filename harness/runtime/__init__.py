"""The leaf layer: process-wide utilities every other layer may use (device choice,
load/crop/flip, fault points, interruption, progress events); it imports no other layer."""
