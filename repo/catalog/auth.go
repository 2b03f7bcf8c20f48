package catalog

// authSchema holds the tables of API tokens and the audit log.
const authSchema = ``
