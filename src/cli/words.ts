// A REPL line split into words as a shell (and Ruby's Shellwords, which
// Warden's REPL used) would: blanks separate, single quotes keep everything,
// double quotes keep all but \" and \\, a backslash escapes the next character.
export class UnbalancedQuoteError extends Error {}

export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const add = (text: string) => (word = (word ?? "") + text);
  while (i < line.length) {
    const ch = line[i];
    if (ch === " " || ch === "\t" || ch === "\n") {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UnbalancedQuoteError(`Unmatched quote: ${line.slice(i)}`);
      add(line.slice(i + 1, end));
      i = end + 1;
    } else if (ch === '"') {
      let j = i + 1;
      let text = "";
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && (line[j + 1] === '"' || line[j + 1] === "\\")) text += line[++j];
        else text += line[j];
      }
      if (j >= line.length) throw new UnbalancedQuoteError(`Unmatched quote: ${line.slice(i)}`);
      add(text);
      i = j + 1;
    } else if (ch === "\\" && i + 1 < line.length) {
      add(line[i + 1]);
      i += 2;
    } else {
      add(ch);
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}
