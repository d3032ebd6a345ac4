"""Request and response models of the HTTP API (family naming: XCreate, XPublic, XList(data, count))."""
