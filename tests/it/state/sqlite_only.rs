//! What only the SQLite backend has: file modes, schema versions, damaged and foreign files.
