"""What lets a third party check the log without trusting the database: signed checkpoints
of the hash chain, and proofs that an event is in the log and that the log only grew.

`signing` and `proofs` need only the standard library and `cryptography`, so a verifier can
run them offline with nothing but the public key.
"""
