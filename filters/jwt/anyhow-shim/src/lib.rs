//! `anyhow` 1.x as the workspace uses it (jwt-simple's error type, prost-derive's), without the
//! standard library's backtrace: anyhow captures one in every error it makes (reading
//! `RUST_BACKTRACE`) and its `Debug` prints it, which linked `std::backtrace` and
//! `rustc_demangle` into the jwt module and the bundle (issue 13, module size). Nothing here reads
//! a backtrace; the API is the part jwt-simple and prost-derive call: [`Error`] (`new`, `msg`,
//! `context`, `downcast`, `downcast_ref`, `chain`, `root_cause`), [`Result`], [`Context`] and the
//! [`anyhow!`], [`bail!`] and [`ensure!`] macros. `Display` is anyhow's (the outermost message;
//! `{:#}` the chain joined by ": "); `Debug` is anyhow's without the backtrace section.
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::fmt::{self, Debug, Display};

/// An error: any `std::error::Error`, or a message.
pub struct Error {
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

/// `Result<T, anyhow::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A message as an error (`Error::msg`, `anyhow!("...")`).
struct MessageError<M>(M);

impl<M: Display> Display for MessageError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(&self.0, f)
    }
}

impl<M: Debug> Debug for MessageError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Debug::fmt(&self.0, f)
    }
}

impl<M: Display + Debug> StdError for MessageError<M> {}

/// An error with a context message in front of it (`.context(...)`).
struct ContextError<C> {
    context: C,
    error: Error,
}

impl<C: Display> Display for ContextError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(&self.context, f)
    }
}

impl<C: Display> Debug for ContextError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(&self.context, f)
    }
}

impl<C: Display> StdError for ContextError<C> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.error.inner)
    }
}

impl Error {
    /// Wraps an error.
    pub fn new<E>(error: E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        Error {
            inner: Box::new(error),
        }
    }

    /// An error of a message.
    pub fn msg<M>(message: M) -> Self
    where
        M: Display + Debug + Send + Sync + 'static,
    {
        Error {
            inner: Box::new(MessageError(message)),
        }
    }

    /// The error with `context` in front of it.
    #[must_use]
    pub fn context<C>(self, context: C) -> Self
    where
        C: Display + Send + Sync + 'static,
    {
        Error {
            inner: Box::new(ContextError {
                context,
                error: self,
            }),
        }
    }

    /// Whether the error (the outermost one) is an `E`.
    pub fn is<E>(&self) -> bool
    where
        E: StdError + Send + Sync + 'static,
    {
        self.inner.is::<E>()
    }

    /// The error as an `E` (the outermost one), else itself.
    pub fn downcast<E>(self) -> std::result::Result<E, Self>
    where
        E: StdError + Send + Sync + 'static,
    {
        match self.inner.downcast::<E>() {
            Ok(e) => Ok(*e),
            Err(inner) => Err(Error { inner }),
        }
    }

    /// The error as an `E` (the outermost one).
    pub fn downcast_ref<E>(&self) -> Option<&E>
    where
        E: StdError + Send + Sync + 'static,
    {
        self.inner.downcast_ref::<E>()
    }

    /// The error as a mutable `E` (the outermost one).
    pub fn downcast_mut<E>(&mut self) -> Option<&mut E>
    where
        E: StdError + Send + Sync + 'static,
    {
        self.inner.downcast_mut::<E>()
    }

    /// The error and its sources, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let first: &(dyn StdError + 'static) = &*self.inner;
        std::iter::successors(Some(first), |&e| e.source())
    }

    /// The innermost source.
    pub fn root_cause(&self) -> &(dyn StdError + 'static) {
        self.chain().last().unwrap_or(&*self.inner)
    }
}

impl<E> From<E> for Error
where
    E: StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        Error::new(error)
    }
}

impl std::ops::Deref for Error {
    type Target = dyn StdError + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}

impl AsRef<dyn StdError + Send + Sync> for Error {
    fn as_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }
}

impl AsRef<dyn StdError> for Error {
    fn as_ref(&self) -> &(dyn StdError + 'static) {
        &*self.inner
    }
}

impl From<Error> for Box<dyn StdError + Send + Sync + 'static> {
    fn from(error: Error) -> Self {
        error.inner
    }
}

impl From<Error> for Box<dyn StdError + 'static> {
    fn from(error: Error) -> Self {
        error.inner
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(&self.inner, f)?;
        if f.alternate() {
            for cause in self.chain().skip(1) {
                write!(f, ": {cause}")?;
            }
        }
        Ok(())
    }
}

impl Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return Debug::fmt(&self.inner, f);
        }
        write!(f, "{}", self.inner)?;
        let mut causes = self.chain().skip(1).peekable();
        if causes.peek().is_some() {
            write!(f, "\n\nCaused by:")?;
            for (n, cause) in causes.enumerate() {
                write!(f, "\n    {n}: {cause}")?;
            }
        }
        Ok(())
    }
}

/// `.context(...)` and `.with_context(|| ...)` on results and options.
pub trait Context<T, E> {
    /// The error, if any, with `context` in front of it.
    fn context<C>(self, context: C) -> Result<T, Error>
    where
        C: Display + Send + Sync + 'static;

    /// The error, if any, with the context `f` makes in front of it.
    fn with_context<C, F>(self, f: F) -> Result<T, Error>
    where
        C: Display + Send + Sync + 'static,
        F: FnOnce() -> C;
}

impl<T, E> Context<T, E> for std::result::Result<T, E>
where
    E: StdError + Send + Sync + 'static,
{
    fn context<C>(self, context: C) -> Result<T, Error>
    where
        C: Display + Send + Sync + 'static,
    {
        self.map_err(|e| Error::new(e).context(context))
    }

    fn with_context<C, F>(self, f: F) -> Result<T, Error>
    where
        C: Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.map_err(|e| Error::new(e).context(f()))
    }
}

impl<T> Context<T, std::convert::Infallible> for Option<T> {
    fn context<C>(self, context: C) -> Result<T, Error>
    where
        C: Display + Send + Sync + 'static,
    {
        self.ok_or_else(|| Error::msg(context.to_string()))
    }

    fn with_context<C, F>(self, f: F) -> Result<T, Error>
    where
        C: Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.ok_or_else(|| Error::msg(f().to_string()))
    }
}

/// `anyhow!`'s choice, as anyhow makes it: an error value is wrapped (so it can be downcast),
/// anything else that displays is a message.
#[doc(hidden)]
pub mod __private {
    use super::Error;
    use std::fmt::{Debug, Display};

    /// A message.
    pub struct Adhoc;
    /// An error value.
    pub struct Trait;

    /// Chosen for `&M` where `M` displays (autoref: only when [`TraitKind`] does not apply).
    pub trait AdhocKind: Sized {
        fn anyhow_kind(&self) -> Adhoc {
            Adhoc
        }
    }
    impl<T> AdhocKind for &T where T: ?Sized + Display + Debug + Send + Sync + 'static {}

    /// Chosen for anything that converts into [`Error`].
    pub trait TraitKind: Sized {
        fn anyhow_kind(&self) -> Trait {
            Trait
        }
    }
    impl<E> TraitKind for E where E: Into<Error> {}

    impl Adhoc {
        pub fn make<M>(self, message: M) -> Error
        where
            M: Display + Debug + Send + Sync + 'static,
        {
            Error::msg(message)
        }
    }

    impl Trait {
        pub fn make<E>(self, error: E) -> Error
        where
            E: Into<Error>,
        {
            error.into()
        }
    }
}

/// An [`Error`] of a format string, or of an error or message value.
#[macro_export]
macro_rules! anyhow {
    ($msg:literal $(,)?) => {
        $crate::Error::msg(::std::format!($msg))
    };
    ($err:expr $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::__private::{AdhocKind as _, TraitKind as _};
        let error = $err;
        (&error).anyhow_kind().make(error)
    }};
    ($fmt:expr, $($arg:tt)*) => {
        $crate::Error::msg(::std::format!($fmt, $($arg)*))
    };
}

/// Returns early with an [`Error`] (arguments as [`anyhow!`]'s).
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return ::std::result::Result::Err($crate::anyhow!($($arg)*))
    };
}

/// Returns early with an [`Error`] unless the condition holds (arguments after it as
/// [`anyhow!`]'s; without them, the message names the condition).
#[macro_export]
macro_rules! ensure {
    ($cond:expr $(,)?) => {
        if !$cond {
            return ::std::result::Result::Err($crate::Error::msg(::std::concat!(
                "Condition failed: `",
                ::std::stringify!($cond),
                "`"
            )));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return ::std::result::Result::Err($crate::anyhow!($($arg)+));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Oops;
    impl Display for Oops {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("oops")
        }
    }
    impl StdError for Oops {}

    fn fails(kind: u8) -> Result<()> {
        match kind {
            0 => bail!(Oops),
            1 => bail!("plain {}", 1),
            2 => ensure!(kind == 3, Oops),
            3 => ensure!(kind == 4, "n = {kind}"),
            _ => ensure!(kind == 5),
        }
        Ok(())
    }

    #[test]
    fn error_values_downcast_and_messages_display() {
        let e = fails(0).unwrap_err();
        assert_eq!(e.downcast_ref::<Oops>(), Some(&Oops));
        assert_eq!(e.to_string(), "oops");
        assert_eq!(fails(1).unwrap_err().to_string(), "plain 1");
        assert_eq!(fails(2).unwrap_err().downcast::<Oops>().ok(), Some(Oops));
        assert_eq!(fails(3).unwrap_err().to_string(), "n = 3");
        assert_eq!(
            fails(9).unwrap_err().to_string(),
            "Condition failed: `kind == 5`"
        );
        let msg = anyhow!(String::from("owned"));
        assert!(msg.downcast_ref::<Oops>().is_none());
        assert_eq!(msg.to_string(), "owned");
    }

    #[test]
    fn context_goes_in_front_and_the_chain_follows_with_alternate() {
        let e: Result<(), Oops> = Err(Oops);
        let e = e.context("reading").unwrap_err().context("outer");
        assert_eq!(e.to_string(), "outer");
        assert_eq!(format!("{e:#}"), "outer: reading: oops");
        assert_eq!(e.root_cause().to_string(), "oops");
        assert_eq!(
            format!("{e:?}"),
            "outer\n\nCaused by:\n    0: reading\n    1: oops"
        );
    }
}
