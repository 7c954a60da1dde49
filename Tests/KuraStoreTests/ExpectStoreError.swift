import KuraStore
import Testing
import KuraTestSupport

/// Expects `body` to throw an ``ObjectStoreError`` with `code`; records an issue otherwise.
/// Returns the error, for further checks.
@discardableResult
func expectStoreError<T>(_ code: ObjectStoreError.Code, _ comment: Comment? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () async throws -> T) async -> ObjectStoreError? {
    do {
        _ = try await body()
        Issue.record("expected ObjectStoreError(\(code)), but it succeeded. \(comment?.rawValue ?? "")",
                     sourceLocation: sourceLocation)
    } catch let error as ObjectStoreError {
        #expect(error.code == code, "\(error). \(comment?.rawValue ?? "")", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected ObjectStoreError(\(code)), got \(error). \(comment?.rawValue ?? "")",
                     sourceLocation: sourceLocation)
    }
    return nil
}
