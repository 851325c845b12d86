//! Enums stored as their wire names: [`stored_as_text!`] gives an enum with `as_str` and
//! serde's names sqlx's `Type`, `Encode` and `Decode` for any database that stores text, so a
//! row's column holds `code_sent`, not a number, and a value the enum does not know is an error
//! when the row is read.

/// Stores `$enum` as text in every sqlx database: written with `as_str`, read back with serde
/// (the same names). The calling crate needs `sqlx` and `serde` as dependencies.
#[macro_export]
macro_rules! stored_as_text {
    ($enum:ty) => {
        impl<DB: ::sqlx::Database> ::sqlx::Type<DB> for $enum
        where
            str: ::sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as ::sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as ::sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: ::sqlx::Database> ::sqlx::Encode<'q, DB> for $enum
        where
            &'q str: ::sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut DB::ArgumentBuffer,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&'q str as ::sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: ::sqlx::Database> ::sqlx::Decode<'r, DB> for $enum
        where
            &'r str: ::sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, ::sqlx::error::BoxDynError> {
                use ::serde::Deserialize as _;
                let text = <&'r str as ::sqlx::Decode<'r, DB>>::decode(value)?;
                Self::deserialize(::serde::de::value::StrDeserializer::<
                    ::serde::de::value::Error,
                >::new(text))
                .map_err(|_| format!("{text:?} is not a stored value of this column").into())
            }
        }
    };
}
