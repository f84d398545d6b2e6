//! What only the Redis backend has: the key layout, expiry, the password kept out of errors.
