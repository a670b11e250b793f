import { describe, expect, it } from 'vitest';
import { expiryText, formErrors, newUserProblems, passwordFormProblems, rows } from './accounts';
import { ApiError, normalizeErrors, parseRetryAfter } from './api';

describe('password form checks', () => {
  it('asks for every field and a matching confirmation', () => {
    expect(Object.keys(passwordFormProblems({ old_password: '', new_password: '', confirm: '' })).sort()).toEqual([
      'new_password',
      'old_password',
    ]);
    expect(passwordFormProblems({ old_password: 'a', new_password: 'long-enough-1', confirm: 'long-enough-2' })).toEqual({
      confirm: ['The two new passwords differ.'],
    });
    expect(passwordFormProblems({ old_password: 'same', new_password: 'same', confirm: 'same' }).new_password).toHaveLength(1);
    expect(passwordFormProblems({ old_password: 'a', new_password: 'b-strong-pw', confirm: 'b-strong-pw' })).toEqual({});
  });
  it('new user needs a username and a password', () => {
    expect(Object.keys(newUserProblems({ username: '  ', password: '', is_staff: false })).sort()).toEqual(['password', 'username']);
    expect(newUserProblems({ username: 'ana', password: 'x', is_staff: true })).toEqual({});
  });
});

describe('error mapping', () => {
  it('puts field messages next to their fields and nothing in the alert', () => {
    const err = new ApiError(400, {
      detail: 'Invalid password.',
      errors: { new_password: ['This password is too common.', 'It is entirely numeric.'] },
    });
    expect(formErrors(err, ['old_password', 'new_password'])).toEqual({
      fields: { new_password: ['This password is too common.', 'It is entirely numeric.'] },
      general: null,
    });
  });
  it('sends messages for unknown fields to the alert', () => {
    const err = new ApiError(400, { detail: 'Invalid.', errors: { non_field_errors: ['Nope.'] } });
    expect(formErrors(err, ['username'])).toEqual({ fields: {}, general: 'Invalid. Nope.' });
    const mixed = new ApiError(400, { detail: 'Invalid.', errors: { username: ['Taken.'], non_field_errors: ['Nope.'] } });
    expect(formErrors(mixed, ['username'])).toEqual({ fields: { username: ['Taken.'] }, general: 'Nope.' });
  });
  it('maps aliases, and plain errors and details go to the alert', () => {
    const err = new ApiError(400, { detail: 'x', errors: { new_password: ['Too short.'] } });
    expect(formErrors(err, ['password'], { new_password: 'password' }).fields).toEqual({ password: ['Too short.'] });
    expect(formErrors(new ApiError(409, { detail: 'Single-user mode.' }), ['username'])).toEqual({
      fields: {},
      general: 'Single-user mode.',
    });
    expect(formErrors(new Error('offline'), ['username']).general).toBe('offline');
    expect(formErrors(null, ['username'])).toEqual({ fields: {}, general: null });
  });
  it('normalizes errors of any shape', () => {
    expect(normalizeErrors({ a: 'one', b: ['x', ''], c: [], d: null })).toEqual({ a: ['one'], b: ['x'] });
    expect(normalizeErrors(['not', 'a', 'map'])).toEqual({});
    expect(normalizeErrors(undefined)).toEqual({});
  });
});

describe('throttling (429)', () => {
  it('reads the delay from Retry-After or from the detail', () => {
    expect(parseRetryAfter('30', 'whatever')).toBe(30);
    expect(parseRetryAfter(null, 'Request was throttled. Expected available in 42 seconds.')).toBe(42);
    expect(parseRetryAfter(undefined, 'Too many attempts: try again in 1 second')).toBe(1);
    expect(parseRetryAfter(null, 'Too many attempts')).toBeNull();
  });
  it('gives a message and the delay', () => {
    const err = new ApiError(429, { detail: 'Too many failed logins: try again in 57 seconds.' });
    expect(err.detail).toContain('57 seconds');
    expect(err.retryAfter).toBe(57);
    expect(new ApiError(429, {}).detail).toMatch(/Too many attempts/);
    expect(new ApiError(400, { detail: 'in 5 seconds' }).retryAfter).toBeNull();
  });
});

describe('lists and dates', () => {
  it('takes plain and paginated lists', () => {
    expect(rows([1, 2])).toEqual([1, 2]);
    expect(rows({ results: [3] })).toEqual([3]);
    expect(rows(null)).toEqual([]);
  });
  it('says when a token expires', () => {
    expect(expiryText(null)).toEqual({ text: 'never', expired: false });
    expect(expiryText('2000-01-01T00:00:00Z').expired).toBe(true);
    expect(expiryText('2999-01-01T00:00:00Z').expired).toBe(false);
  });
});
