// Every user of the repository layer speaks its error model.
@_exported import KuraCore
