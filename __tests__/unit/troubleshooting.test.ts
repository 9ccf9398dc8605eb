/**
 * Every message the action can fail or warn with has a row in the README's troubleshooting: the
 * messages are read from src/ with the TypeScript parser (errors, PhaseErrors, warnings, notices,
 * and the host scripts' `@@%s error` lines), and the README must hold a recognisable part of each.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { PROJECT_ROOT } from '../support/action.js'

const PLACEHOLDER = '\u0000'

/** The text of a message expression, with a placeholder for each part computed at run time. */
function messageTexts(node: ts.Expression): string[] {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node.text]
  if (ts.isTemplateExpression(node)) {
    return [
      node.head.text + node.templateSpans.map(span => PLACEHOLDER + span.literal.text).join('')
    ]
  }
  if (ts.isParenthesizedExpression(node)) return messageTexts(node.expression)
  if (ts.isConditionalExpression(node))
    return [...messageTexts(node.whenTrue), ...messageTexts(node.whenFalse)]
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    const left = messageTexts(node.left)
    const right = messageTexts(node.right)
    return left.flatMap(a => right.map(b => a + b))
  }
  return [PLACEHOLDER]
}

/** Every failure and warning message in src/. */
function messagesInSource(): { file: string; text: string }[] {
  const found: { file: string; text: string }[] = []
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
      entry.isDirectory()
        ? files(join(dir, entry.name))
        : /\.(ts|sh)$/.test(entry.name)
          ? [join(dir, entry.name)]
          : []
    )
  for (const file of files(join(PROJECT_ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8')
    // The host scripts kept as files: their `@@KEY error` lines are messages too.
    if (file.endsWith('.sh')) {
      for (const match of text.matchAll(/'@@%s error ([^'"\\$]{12,})/g))
        found.push({ file, text: match[1] })
      continue
    }
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      let message: ts.Expression | undefined
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
        if (['Error', 'ConnectError'].includes(node.expression.text)) message = node.arguments?.[0]
        if (node.expression.text === 'PhaseError') message = node.arguments?.[2]
        if (node.expression.text === 'RemoteCommandError') message = node.arguments?.[3]
      }
      if (ts.isCallExpression(node)) {
        const callee = node.expression.getText(source)
        if (['core.warning', 'core.error', 'core.notice', 'core.setFailed'].includes(callee))
          message = node.arguments[0]
      }
      if (message) for (const text of messageTexts(message)) found.push({ file, text })
      ts.forEachChild(node, visit)
    }
    visit(source)
    for (const match of text.matchAll(/['"]@@%s error ([^'"\\$]{12,})/g))
      found.push({ file, text: match[1] })
  }
  return found
}

/** The first fixed run of a message long enough to recognise, as a README row would quote it. */
function recognisable(text: string): string | undefined {
  const run = text
    .split(PLACEHOLDER)
    .flatMap(part => part.split('%s'))
    .map(part =>
      part
        .split('\n')[0]
        .replace(/^[\s.;,:')]+/, '')
        .trim()
    )
    .find(part => part.length >= 14)
  return run?.slice(0, 32).trim()
}

describe('README troubleshooting', () => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8').replace(/\\\|/g, '|')
  const messages = messagesInSource()
    .map(message => ({ ...message, part: recognisable(message.text) }))
    .filter((message): message is { file: string; text: string; part: string } => !!message.part)

  it('finds the messages (the reader works)', () => {
    expect(messages.length).toBeGreaterThan(60)
  })

  it('has a row for every message the action can fail or warn with', () => {
    const missing = messages
      .filter(message => !readme.includes(message.part))
      .map(message => `${message.file.slice(PROJECT_ROOT.length + 1)}: ${message.part}`)
    expect([...new Set(missing)]).toEqual([])
  })
})
