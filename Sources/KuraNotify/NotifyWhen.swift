/// When a notification channel is used: only for runs in which something failed, or after every run.
public enum NotifyWhen: String, Sendable, Codable, CaseIterable {
    /// Only when at least one source of the run failed (`on = "failure"`).
    case failure
    /// After every run, successful or not (`on = "always"`).
    case always
}
