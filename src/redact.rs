//! Redacting `Debug` for types that hold secrets (book § Configuration: secrets never printed): a
//! `{:?}` of them shows the type and its harmless fields, never a hash, token or code.

/// Implements `Debug` for `$ty` showing only the named fields.
macro_rules! redacted_debug {
    ($ty:ty $(, $field:ident)* $(,)?) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}
