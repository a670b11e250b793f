import { lazy, Suspense, useState } from 'react';
import { Link, Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { useAuth } from './auth';
import { Loading } from './components/ui';
import PageBoundary from './components/PageBoundary';
import Login from './pages/Login';

// Each page is its own chunk (code-split by route): the first load carries only the shell, the
// login page and React; CodeMirror and uPlot arrive with the pages that use them.
const ModelList = lazy(() => import('./pages/ModelList'));
const ModelEdit = lazy(() => import('./pages/ModelEdit'));
const Configurations = lazy(() => import('./pages/Configurations'));
const ConfigurationDetail = lazy(() => import('./pages/ConfigurationDetail'));
const DeployForm = lazy(() => import('./pages/DeployForm'));
const Deployments = lazy(() => import('./pages/Deployments'));
const DeploymentDetail = lazy(() => import('./pages/DeploymentDetail'));
const ResultDetail = lazy(() => import('./pages/ResultDetail'));
const Datasources = lazy(() => import('./pages/Datasources'));
const Inferences = lazy(() => import('./pages/Inferences'));
const InferenceForm = lazy(() => import('./pages/InferenceForm'));
const Visualization = lazy(() => import('./pages/Visualization'));
const Account = lazy(() => import('./pages/Account'));
const Users = lazy(() => import('./pages/Users'));
const Runs = lazy(() => import('./pages/Runs'));
const Compare = lazy(() => import('./pages/Compare'));

type NavItem = { section: string } | { to: string; label: string; staff?: boolean };

const NAV: readonly NavItem[] = [
  { section: 'Build' },
  { to: '/models', label: 'Models' },
  { to: '/configurations', label: 'Configurations' },
  { section: 'Train' },
  { to: '/deployments', label: 'Deployments & results' },
  { to: '/runs', label: 'Runs' },
  { to: '/datasources', label: 'Datasources' },
  { section: 'Serve' },
  { to: '/inferences', label: 'Inferences' },
  { to: '/visualization', label: 'Visualization' },
  { section: 'Settings' },
  { to: '/account', label: 'Account' },
  { to: '/users', label: 'Users', staff: true },
];

export default function App() {
  const { user, checking, logout } = useAuth();
  const location = useLocation();
  // The phone menu is open on the page where it was opened: navigating closes it.
  const [menuOpenOn, setMenuOpenOn] = useState<string | null>(null);
  const menuOpen = menuOpenOn === location.pathname;

  if (checking) return <Loading what="Kafka-ML" />;
  if (!user) {
    if (location.pathname !== '/login') {
      const next = location.pathname + location.search;
      return <Navigate to={`/login${next && next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />;
    }
    return <Login />;
  }

  return (
    <div className="app">
      <header className="topbar">
        <button className="btn small menu-toggle" aria-label="Menu" onClick={() => setMenuOpenOn(menuOpen ? null : location.pathname)}>
          ☰
        </button>
        <Link to="/" className="brand">
          Kafka-ML
        </Link>
        <span className="spacer" />
        <Link to="/account" className="user" data-testid="username" title="Your account: password and API tokens">
          {user.username}
        </Link>
        <button className="btn small" onClick={() => logout()}>
          Log out
        </button>
      </header>
      <nav className={`sidebar${menuOpen ? ' open' : ''}`} aria-label="Main">
        {NAV.filter((item) => !('staff' in item && item.staff) || user.is_staff).map((item, i) =>
          'section' in item ? (
            <div className="section" key={i}>
              {item.section}
            </div>
          ) : (
            <NavLink key={item.to} to={item.to}>
              {item.label}
            </NavLink>
          ),
        )}
      </nav>
      <main>
        <PageBoundary key={location.pathname}>
          <Suspense fallback={<Loading what="page" />}>
            <Routes>
              <Route path="/" element={<Navigate to="/models" replace />} />
              <Route path="/login" element={<Navigate to={new URLSearchParams(location.search).get('next') || '/models'} replace />} />
              <Route path="/models" element={<ModelList />} />
              <Route path="/models/new" element={<ModelEdit />} />
              <Route path="/models/:id" element={<ModelEdit />} />
              <Route path="/configurations" element={<Configurations />} />
              <Route path="/configurations/:id" element={<ConfigurationDetail />} />
              <Route path="/configurations/:id/deploy" element={<DeployForm />} />
              <Route path="/deployments" element={<Deployments />} />
              <Route path="/deployments/:id" element={<DeploymentDetail />} />
              <Route path="/results/:id" element={<ResultDetail />} />
              <Route path="/runs" element={<Runs />} />
              <Route path="/runs/compare" element={<Compare />} />
              <Route path="/results/:id/inference" element={<InferenceForm />} />
              <Route path="/datasources" element={<Datasources />} />
              <Route path="/inferences" element={<Inferences />} />
              <Route path="/visualization" element={<Visualization />} />
              <Route path="/account" element={<Account />} />
              <Route path="/users" element={<Users />} />
              <Route
                path="*"
                element={
                  <div className="card">
                    Nothing here. <Link to="/models">Go to models</Link>.
                  </div>
                }
              />
            </Routes>
          </Suspense>
        </PageBoundary>
      </main>
    </div>
  );
}
