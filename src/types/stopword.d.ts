declare module "stopword" {
  /** English stop words. */
  export const eng: string[];
  /** Russian stop words. */
  export const rus: string[];
  export function removeStopwords(tokens: string[], stopwords?: string[]): string[];
}
