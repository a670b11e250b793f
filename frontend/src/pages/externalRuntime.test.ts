import { describe, expect, it } from 'vitest';
import { inferenceDefaults, inferenceProblems } from './InferenceForm';
import type { TrainingResult } from '../lib/types';

const result = { id: 9, model_name: 'Digits Net', framework: 'tensorflow' } as TrainingResult;

describe('external runtime in the inference form', () => {
  it('needs the model server URL and model name', () => {
    const d = { ...inferenceDefaults(result, null, false), runtime: 'external' };
    expect(Object.keys(inferenceProblems(d, false)).sort()).toEqual(['external_model', 'external_url']);
    const bad = { ...d, external_url: 'ftp://x', external_model: 'digits' };
    expect(Object.keys(inferenceProblems(bad, false))).toEqual(['external_url']);
    const ok = { ...d, external_url: 'http://mlserver:8080', external_model: 'digits' };
    expect(inferenceProblems(ok, false)).toEqual({});
  });

  it('asks nothing of the embedded runtimes', () => {
    expect(inferenceProblems(inferenceDefaults(result, null, false), false)).toEqual({});
  });
});
