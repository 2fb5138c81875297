/// The first way two plans' steps differ, in words: a saved `plan` against what `apply` finds now.
public enum StepDifference {
    public static func first(saved: [Step], now: [Step]) -> String? {
        for (old, new) in zip(saved, now) where old != new {
            if StepPrinter.title(old.operation) != StepPrinter.title(new.operation) {
                return "step \(new.number) was \"\(StepPrinter.title(old.operation))\" and is now \"\(StepPrinter.title(new.operation))\""
            }
            let was = StepPrinter.details(old.operation) + [old.change].compactMap { $0 }
            let now = StepPrinter.details(new.operation) + [new.change].compactMap { $0 }
            guard let changed = zip(was, now).first(where: { $0 != $1 }) else {
                return "step \(new.number) (\(StepPrinter.title(new.operation))) differs in what --format json shows"
            }
            return "step \(new.number) (\(StepPrinter.title(new.operation))) was \"\(changed.0)\" and is now \"\(changed.1)\""
        }
        if saved.count != now.count { return "the plan had \(saved.count) steps and now has \(now.count)" }
        return nil
    }
}
