import { expect } from 'vitest';

/**
 * Checks a message against Block Kit's rules as Slack documents them
 * (https://api.slack.com/reference/block-kit/blocks): known block types, text objects, the
 * limits Slack enforces (a header's 150 characters, a section's 3,000, ten fields, a button's value
 * 2,000), buttons with an action_id and a value. Slack refuses a message that breaks them.
 */
const BLOCK_TYPES = [
  'actions',
  'context',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'section',
  'video',
  'rich_text',
];

type Json = Record<string, unknown>;

function textObject(t: unknown, where: string, max = 3000): void {
  const o = t as Json;
  expect(['plain_text', 'mrkdwn'], `${where}.type`).toContain(o.type);
  expect(typeof o.text, `${where}.text`).toBe('string');
  expect((o.text as string).length, `${where}.text length`).toBeGreaterThan(0);
  expect((o.text as string).length, `${where}.text length`).toBeLessThanOrEqual(max);
}

export function expectBlockKit(message: Json): void {
  expect(typeof message.text, 'text (the notification fallback)').toBe('string');
  const blocks = (message.blocks ?? []) as Json[];
  expect(Array.isArray(blocks)).toBe(true);
  expect(blocks.length).toBeLessThanOrEqual(50);
  blocks.forEach((block, i) => {
    const where = `blocks[${i}] (${String(block.type)})`;
    expect(BLOCK_TYPES, where).toContain(block.type);
    if (block.type === 'header') {
      expect((block.text as Json).type, where).toBe('plain_text');
      textObject(block.text, where, 150);
    }
    if (block.type === 'section') {
      expect(block.text !== undefined || block.fields !== undefined, `${where} has text or fields`).toBe(true);
      if (block.text) textObject(block.text, where);
      const fields = (block.fields ?? []) as unknown[];
      expect(fields.length, `${where} fields`).toBeLessThanOrEqual(10);
      fields.forEach((f, j) => textObject(f, `${where}.fields[${j}]`, 2000));
    }
    if (block.type === 'context') {
      const elements = block.elements as unknown[];
      expect(elements.length, where).toBeGreaterThan(0);
      expect(elements.length, where).toBeLessThanOrEqual(10);
      elements.forEach((e, j) => textObject(e, `${where}.elements[${j}]`));
    }
    if (block.type === 'actions') {
      const elements = block.elements as Json[];
      expect(elements.length, where).toBeGreaterThan(0);
      expect(elements.length, where).toBeLessThanOrEqual(25);
      for (const button of elements) {
        expect(button.type, where).toBe('button');
        expect(typeof button.action_id, `${where} action_id`).toBe('string');
        expect((button.action_id as string).length).toBeLessThanOrEqual(255);
        expect(typeof button.value, `${where} value`).toBe('string');
        expect((button.value as string).length).toBeLessThanOrEqual(2000);
        textObject(button.text, `${where} button text`, 75);
        if (button.style !== undefined) expect(['primary', 'danger']).toContain(button.style);
      }
    }
  });
}

/** The buttons of a message, by action_id. */
export function buttonsOf(message: Json): Record<string, Json> {
  const blocks = (message.blocks ?? []) as Json[];
  const buttons = blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements as Json[]);
  return Object.fromEntries(buttons.map((b) => [b.action_id as string, b]));
}

/** Every text of a message in one string, to look for words in it. */
export const textOf = (message: Json): string => JSON.stringify(message);
