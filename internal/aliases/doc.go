// Package aliases reads aliases(5) files and expands aliases the way
// Postfix's local(8) delivery agent does.
//
// Parse turns an aliases file into name/value entries exactly as postalias(1)
// stores them: logical lines (a line starting with whitespace continues the
// previous one; blank lines and lines whose first non-blank character is '#'
// are skipped), the name up to the first unquoted ':' in internal (unquoted)
// form, the value re-written in external (quoted) RFC 822 form, so that
// "mailhorn alias -q" answers like "postalias -q".
//
// Expander resolves a local name through the alias tables (a maps.List, as
// alias_maps names them), :include: files and .forward contents into Targets:
// addresses, mailboxes, files and commands, each with the chain of aliases it
// came through, its origin (alias table, :include: file or .forward file) and
// the owner- address that should receive bounces.
//
// Security notes:
//   - Whether a |command or /file target may be delivered depends on where it
//     came from (allow_mail_to_commands, allow_mail_to_files); Target.Allowed
//     answers that, delivery must ask. The expander never runs or opens a
//     target itself.
//   - :include: files are read at expansion time and may be hostile: they must
//     be absolute paths to regular files that are not world-writable, are read
//     up to a size limit, and nesting and the number of targets are bounded.
//     The file is opened with the expander's own rights: opening it with the
//     rights of the alias or .forward owner (Postfix's open_as) is the
//     delivery agent's job, through Expander.ReadFile.
//   - The \user form (deliver to the mailbox, no further expansion) is honoured
//     only where the raw text is read at expansion time (.forward and
//     :include: files): postalias, and so the alias database, drops the
//     backslash, as Postfix does.
//
// Implements: aliases(5), postalias(1) input handling, the alias, :include:
// and address-extension parts of local(8); tokenization follows RFC 822 with
// Postfix's extensions ('|', '%', '!' are operators).
package aliases
