/// An error of a lower layer that knows how it reads as a ``KuraError`` (code, message, hint).
///
/// Leaf targets keep precise error types of their own (`ObjectStoreError` with an errno, `TarError`
/// with an offset, …); adopting this protocol lets the one printer of the command-line front end, the
/// reports and the logs show them in the same shape, and lets callers decide on the code.
public protocol KuraErrorConvertible: Error {
    /// The error as a ``KuraError``; `cause` should carry `self`.
    var kuraError: KuraError { get }
}
