import KuraStore

/// The first expectation of a conformance check that did not hold: what was expected, and where.
///
/// The conformance suite is a plain library (no dependency on a test framework, so that it builds
/// everywhere a store is built); each store's test file calls it from its `@Test` functions, where a
/// thrown ``ConformanceFailure`` fails the test with this description.
public struct ConformanceFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var file: String
    public var line: UInt

    public init(_ message: String, file: StaticString = #fileID, line: UInt = #line) {
        self.message = message
        self.file = "\(file)"
        self.line = line
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// Throws a ``ConformanceFailure`` unless `condition` holds.
public func expect(_ condition: Bool, _ message: @autoclosure () -> String = "expectation failed",
                   file: StaticString = #fileID, line: UInt = #line) throws(ConformanceFailure) {
    if !condition { throw ConformanceFailure(message(), file: file, line: line) }
}

/// Throws a ``ConformanceFailure`` unless `actual == expected`; the message shows both (long byte
/// arrays by their size).
public func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ message: @autoclosure () -> String = "",
                                      file: StaticString = #fileID, line: UInt = #line) throws(ConformanceFailure) {
    guard actual != expected else { return }
    func show(_ value: T) -> String {
        if let bytes = value as? [UInt8], bytes.count > 32 { return "\(bytes.count) bytes" }
        return String(describing: value)
    }
    let context = message()
    throw ConformanceFailure("expected \(show(expected)), got \(show(actual))" + (context.isEmpty ? "" : " — \(context)"),
                             file: file, line: line)
}

/// Runs `body`, which must throw an ``ObjectStoreError`` with `code`; returns that error.
@discardableResult
public func expectStoreError<T>(_ code: ObjectStoreError.Code, _ message: @autoclosure () -> String = "",
                                file: StaticString = #fileID, line: UInt = #line,
                                _ body: () async throws -> T) async throws -> ObjectStoreError {
    let context = message().isEmpty ? "" : " — \(message())"
    do {
        _ = try await body()
    } catch let error as ObjectStoreError {
        guard error.code == code else {
            throw ConformanceFailure("expected ObjectStoreError(\(code)), got \(error.code): \(error)\(context)", file: file, line: line)
        }
        return error
    } catch {
        throw ConformanceFailure("expected ObjectStoreError(\(code)), got \(error)\(context)", file: file, line: line)
    }
    throw ConformanceFailure("expected ObjectStoreError(\(code)), but it succeeded\(context)", file: file, line: line)
}
